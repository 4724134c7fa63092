package function

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"function/internal/config"
	"function/internal/model"
	"function/internal/registry"
)

// writeBundle writes model.txt and a metadata.json naming version and matching txt's checksum.
func writeBundle(t *testing.T, dir string, txt []byte, version string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "internal", "model", "builtin", model.MetadataFile))
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(txt)
	meta["model_sha256"], meta["version"] = hex.EncodeToString(sum[:]), version
	out, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	// metadata first: a poll between the two writes sees a checksum mismatch, never a mix.
	if err := os.WriteFile(filepath.Join(dir, model.MetadataFile), out, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, model.ModelFile), txt, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestHotSwapRefusesCyclicModel: a polled bundle directory is replaced by a correctly checksummed
// model whose first tree is a cycle. The function must refuse it (ml_model_errors_total
// {reason="model_invalid"}), keep scoring with the old model, and never hang a request.
func TestHotSwapRefusesCyclicModel(t *testing.T) {
	txt, err := os.ReadFile(filepath.Join("..", "internal", "model", "builtin", model.ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeBundle(t, dir, txt, "v1")
	cfg := testConfig()
	cfg.ModelURI = dir
	cfg.ModelPollInterval = config.MinModelPollInterval
	f := New(WithConfig(cfg), WithLogger(quietLogger()))
	if err := f.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	defer f.Stop(context.Background())
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()

	lines := strings.Split(string(txt), "\n")
	for i, l := range lines {
		if vals, ok := strings.CutPrefix(l, "left_child="); ok {
			fields := strings.Fields(vals)
			fields[1] = "0" // node 1's left child is the root
			lines[i] = "left_child=" + strings.Join(fields, " ")
			break
		}
	}
	writeBundle(t, dir, []byte(strings.Join(lines, "\n")), "v2-cyclic")

	invalid := f.Metrics().Errors.WithLabelValues(registry.ReasonInvalid)
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(invalid) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the cyclic model was not counted as model_invalid within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := testutil.ToFloat64(f.Metrics().ModelInfo.WithLabelValues("fraud-detector", "v1")); got != 1 {
		t.Fatalf("ml_model_info{model_version=v1} = %v after the refused swap, want 1", got)
	}
	client := &http.Client{Timeout: 5 * time.Second} // a swapped-in cycle would hang /predict
	resp, err := client.Post(srv.URL+"/predict", "application/json", strings.NewReader(txBody("after", 596, 12.5)))
	if err != nil {
		t.Fatalf("/predict after the refused swap: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/predict after the refused swap: HTTP %d", resp.StatusCode)
	}
}
