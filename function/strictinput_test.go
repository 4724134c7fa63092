package function

import (
	"strings"
	"testing"
)

// TestStrictJSONInput: what internal/txn now refuses reaches the client as a 400 naming the
// field and the reason (a duplicate or case-folded key, "1_000", an id that is not UTF-8).
func TestStrictJSONInput(t *testing.T) {
	_, srv := startFunction(t)
	valid := txBody("x", 1, 10)
	cases := map[string]struct{ body, want string }{
		"duplicate amount": {strings.Replace(valid, `"tx_amount":10`, `"tx_amount":10,"tx_amount":9000`, 1), "duplicate key"},
		"case-folded key":  {strings.Replace(valid, `"tx_amount":10`, `"tx_amount":10,"TX_AMOUNT":9000`, 1), "case-sensitive"},
		"underscored":      {strings.Replace(valid, `"tx_amount":10`, `"tx_amount":"1_000"`, 1), "tx_amount"},
		"invalid UTF-8 id": {strings.Replace(valid, `"transaction_id":"x"`, "\"transaction_id\":\"x\xff\"", 1), "UTF-8"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resp, body := post(t, srv.URL+"/predict", "application/json", tc.body)
			if resp.StatusCode != 400 || !strings.Contains(string(body), tc.want) {
				t.Fatalf("HTTP %d %s, want 400 with %q", resp.StatusCode, body, tc.want)
			}
		})
	}
}
