package faults_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// hostileInput is one request an attacker or a careless client sends, and the answer it must get
// however loaded or broken the rest of the path is: validation comes before any state.
type hostileInput struct {
	name string
	want int
	send func(url string, i int) (int, error)
}

func txJSON(id string, at time.Time) string {
	return fmt.Sprintf(`{"transaction_id":%q,"tx_datetime":%q,"customer_id":42,"terminal_id":7,"tx_amount":25.5}`,
		id, at.UTC().Format("2006-01-02 15:04:05"))
}

func labelJSON(id string, at time.Time) string {
	return fmt.Sprintf(`{"transaction_id":%q,"tx_datetime":%q,"customer_id":42,"terminal_id":7,"tx_fraud":1}`,
		id, at.UTC().Format("2006-01-02 15:04:05"))
}

// binaryEvent posts a binary-mode CloudEvent to the function's root.
func binaryEvent(url, typ, id, body string, ext map[string]string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", id)
	req.Header.Set("Ce-Source", "/hostile")
	req.Header.Set("Ce-Type", typ)
	for k, v := range ext {
		req.Header.Set("Ce-"+k, v)
	}
	return do(req)
}

func do(req *http.Request) (int, error) {
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func postJSON(url, body string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	return do(req)
}

var hostileInputs = []hostileInput{
	{"transaction dated 38 days ahead", http.StatusBadRequest, func(url string, i int) (int, error) {
		return binaryEvent(url, "fraud.transaction.v1", fmt.Sprintf("ahead-%d", i), txJSON(fmt.Sprintf("ahead-%d", i), time.Now().Add(38*24*time.Hour)), nil)
	}},
	{"transaction dated 9999-12-31", http.StatusBadRequest, func(url string, i int) (int, error) {
		return postJSON(url+"/predict", txJSON(fmt.Sprintf("y9999-%d", i), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)))
	}},
	{"unsigned label", http.StatusBadRequest, func(url string, i int) (int, error) {
		return binaryEvent(url, "fraud.label.v1", fmt.Sprintf("forged-%d", i), labelJSON(fmt.Sprintf("never-%d", i), time.Now()), nil)
	}},
	{"label with a forged signature", http.StatusBadRequest, func(url string, i int) (int, error) {
		return binaryEvent(url, "fraud.label.v1", fmt.Sprintf("forged-sig-%d", i), labelJSON(fmt.Sprintf("never-%d", i), time.Now()),
			map[string]string{"labelsignature": strings.Repeat("ab", 32)})
	}},
	{"malformed JSON", http.StatusBadRequest, func(url string, i int) (int, error) {
		return postJSON(url+"/predict", `{"transaction_id": "x", "tx_amount": 1_000`)
	}},
	{"body over MAX_BODY_BYTES", http.StatusRequestEntityTooLarge, func(url string, i int) (int, error) {
		return postJSON(url+"/predict", `[`+strings.Repeat(` `, 2<<20)+`]`)
	}},
	{"unknown event type", http.StatusBadRequest, func(url string, i int) (int, error) {
		return binaryEvent(url, "fraud.admin.v1", fmt.Sprintf("admin-%d", i), `{}`, nil)
	}},
}
