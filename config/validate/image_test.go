package validate

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/json"
)

// The image test needs buildah (config/config.mk installs it) and a minute or two of CPU; it runs
// when FRAUD_IMAGE_TEST=1, as make test-config sets.
const imageTestEnv = "FRAUD_IMAGE_TEST"

var (
	dockerfile         = filepath.Join(repo, "config/image/Dockerfile")
	dockerfilePrebuilt = filepath.Join(repo, "config/image/Dockerfile.prebuilt")
)

// finalStage returns the instructions after a Dockerfile's last FROM, without comments.
func finalStage(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stage []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "FROM "):
			stage = []string{line}
		default:
			stage = append(stage, line)
		}
	}
	return stage
}

// TestDockerfilesAgree: the multi-stage Dockerfile (for users) and the prebuilt one (for the
// test) end in the same final stage: FROM scratch, the same files at the same paths, the same
// user, environment, port and entrypoint.
func TestDockerfilesAgree(t *testing.T) {
	norm := func(lines []string) []string {
		var out []string
		copyDest := regexp.MustCompile(`^COPY (--from=\S+ )?\S+ (\S+)$`)
		for _, l := range lines {
			if m := copyDest.FindStringSubmatch(l); m != nil {
				l = "COPY -> " + m[2] // sources differ (stage vs context); destinations must not
			}
			out = append(out, l)
		}
		return out
	}
	a, b := norm(finalStage(t, dockerfile)), norm(finalStage(t, dockerfilePrebuilt))
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("final stages differ:\nDockerfile:\n  %s\nDockerfile.prebuilt:\n  %s", strings.Join(a, "\n  "), strings.Join(b, "\n  "))
	}
	if len(a) == 0 || a[0] != "FROM scratch" {
		t.Errorf("final stage must be FROM scratch, got %q", a)
	}
}

// makeRunPackage asks make what `make run` runs and returns its package.
func makeRunPackage(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("make", "-s", "-n", "-C", repo, "run").Output()
	if err != nil {
		t.Fatalf("make -n run: %v", err)
	}
	m := regexp.MustCompile(`go run (\./\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("make -n run prints no `go run ./pkg`: %q", out)
	}
	return string(m[1])
}

// dockerfileBuild returns the build stage's `go build` command line (for sh -c) with its output
// path replaced by out, and the package it builds.
func dockerfileBuild(t *testing.T, out string) (cmdline, pkg string) {
	t.Helper()
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RUN ((?:\w+=\S+ )*go build .* -o )\S+ (\./\S+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("Dockerfile has no `RUN [ENV=..] go build ... -o <out> ./pkg` line")
	}
	return string(m[1]) + out + " " + string(m[2]), string(m[2])
}

func TestImage(t *testing.T) {
	if os.Getenv(imageTestEnv) != "1" {
		t.Skipf("set %s=1 (make test-config does) to build the image with buildah", imageTestEnv)
	}
	buildah, err := exec.LookPath("buildah")
	if err != nil {
		t.Fatalf("%s=1 but buildah is not installed: %v", imageTestEnv, err)
	}
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	if err := os.MkdirAll(ctx, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(ctx, "fraud-detector")
	pkg := makeRunPackage(t)
	cmdline, dpkg := dockerfileBuild(t, bin)
	if dpkg != pkg {
		t.Fatalf("the Dockerfile builds %s, make run runs %s", dpkg, pkg)
	}
	t.Logf("make run runs %s; building it with the Dockerfile's command: %s", pkg, cmdline)
	run(t, repo, os.Environ(), "sh", "-c", cmdline)
	certs, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatalf("host CA certificates: %v", err)
	}
	if err := os.WriteFile(filepath.Join(ctx, "ca-certificates.crt"), certs, 0o644); err != nil {
		t.Fatal(err)
	}

	// Private storage: vfs and chroot isolation work without overlay mounts or user namespaces.
	store := []string{"--root", filepath.Join(tmp, "storage"), "--runroot", filepath.Join(tmp, "run"), "--storage-driver", "vfs"}
	const tag = "localhost/fraud-detector:test"
	run(t, "", nil, buildah, append(store, "build", "--isolation", "chroot", "-f", dockerfilePrebuilt, "-t", tag, ctx)...)
	t.Cleanup(func() { _ = exec.Command(buildah, append(store, "rmi", "--all", "--force")...).Run() })

	var inspect struct {
		OCIv1 struct {
			Config struct {
				User         string
				Entrypoint   []string
				Cmd          []string
				Env          []string
				ExposedPorts map[string]struct{}
			} `json:"config"`
		}
	}
	out := run(t, "", nil, buildah, append(store, "inspect", "--type", "image", tag)...)
	if err := json.UnmarshalCaseSensitivePreserveInts(out, &inspect); err != nil {
		t.Fatalf("buildah inspect: %v", err)
	}
	cfg := inspect.OCIv1.Config
	t.Logf("image config: user %q, entrypoint %q, ports %v, env %q", cfg.User, cfg.Entrypoint, cfg.ExposedPorts, cfg.Env)
	if cfg.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532 (non-root)", cfg.User)
	}
	if strings.Join(cfg.Entrypoint, " ") != "/fraud-detector" || len(cfg.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q, want [/fraud-detector] and no cmd", cfg.Entrypoint, cfg.Cmd)
	}
	if _, ok := cfg.ExposedPorts["8080/tcp"]; !ok || len(cfg.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v, want only 8080/tcp", cfg.ExposedPorts)
	}
	if !contains(cfg.Env, "LISTEN_ADDRESS=[::]:8080") {
		t.Errorf("env %q lacks LISTEN_ADDRESS=[::]:8080", cfg.Env)
	}

	// The image's files: exactly the binary and the CA bundle; the binary is the one just built.
	layout := filepath.Join(tmp, "oci")
	run(t, "", nil, buildah, append(store, "push", tag, "oci:"+layout)...)
	files := ociFiles(t, layout)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	if len(files) != 2 || files["fraud-detector"] == nil || files["etc/ssl/certs/ca-certificates.crt"] == nil {
		t.Fatalf("image files %v, want fraud-detector and etc/ssl/certs/ca-certificates.crt only", names)
	}
	built, _ := os.ReadFile(bin)
	if sha(files["fraud-detector"]) != sha(built) {
		t.Fatalf("the image's /fraud-detector differs from the binary built from %s", pkg)
	}
	extracted := filepath.Join(tmp, "extracted")
	if err := os.WriteFile(extracted, files["fraud-detector"], 0o755); err != nil {
		t.Fatal(err)
	}
	info := string(run(t, repo, nil, "go", "version", "-m", extracted))
	wantPath := "function/" + strings.TrimPrefix(pkg, "./")
	if !regexp.MustCompile(`(?m)^\s+path\s+` + regexp.QuoteMeta(wantPath) + `$`).MatchString(info) {
		t.Errorf("the entrypoint's build info names no path %s:\n%s", wantPath, info)
	}
	if !strings.Contains(info, "CGO_ENABLED=0") {
		t.Errorf("the entrypoint was not built with CGO_ENABLED=0:\n%s", info)
	}
	f, err := elf.NewFile(bytes.NewReader(files["fraud-detector"]))
	if err != nil {
		t.Fatalf("entrypoint is not an ELF binary: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("entrypoint is dynamically linked (has an ELF interpreter): it cannot run FROM scratch")
		}
	}
	t.Logf("image: %d MiB binary (sha256 %s), built from %s", len(built)>>20, sha(built)[:12], wantPath)
}

// run runs a command and returns its stdout, failing the test with its stderr.
func run(t *testing.T, dir string, env []string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// ociFiles reads every regular file of an OCI image layout's (single) image, layer over layer.
func ociFiles(t *testing.T, layout string) map[string][]byte {
	t.Helper()
	blob := func(digest string) []byte {
		b, err := os.ReadFile(filepath.Join(layout, "blobs", strings.Replace(digest, ":", "/", 1)))
		if err != nil {
			t.Fatalf("OCI blob: %v", err)
		}
		return b
	}
	type desc struct {
		Digest string `json:"digest"`
	}
	var index struct {
		Manifests []desc `json:"manifests"`
	}
	idx, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.UnmarshalCaseSensitivePreserveInts(idx, &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json: %v, %d manifests", err, len(index.Manifests))
	}
	var manifest struct {
		Layers []desc `json:"layers"`
	}
	if err := json.UnmarshalCaseSensitivePreserveInts(blob(index.Manifests[0].Digest), &manifest); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	files := map[string][]byte{}
	for _, l := range manifest.Layers {
		var r io.Reader = bytes.NewReader(blob(l.Digest))
		if b := blob(l.Digest); len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
			gz, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			r = gz
		}
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: %v", l.Digest, err)
			}
			if h.Typeflag == tar.TypeReg {
				b, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				files[strings.TrimPrefix(h.Name, "./")] = b
			}
		}
	}
	return files
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
