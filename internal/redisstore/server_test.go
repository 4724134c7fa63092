package redisstore_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"function/internal/proctest"
)

// redisServer is a throwaway redis-server on a loopback port, without persistence unless asked,
// killed when the test ends (and, on Linux, when the test binary dies).
type redisServer struct {
	t    testing.TB
	bin  string
	dir  string // working directory and log
	port int
	args []string
	cmd  *exec.Cmd
}

// redisBinary is the redis-server that `make test-redis` installs and names in REDIS_SERVER. The
// tests that need it are skipped in plain `go test ./...` and run by test-redis, which fails if
// the variable is set to something that does not start.
func redisBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("REDIS_SERVER")
	if bin == "" {
		t.Skip("REDIS_SERVER is not set: `make test-redis` runs this test against a real redis-server")
	}
	return bin
}

// startRedis starts a redis-server for the test; extra are more server arguments.
func startRedis(t testing.TB, extra ...string) *redisServer {
	t.Helper()
	r := newRedis(t, extra...)
	t.Cleanup(r.Kill)
	return r
}

// newRedis starts a redis-server that the caller must Kill.
func newRedis(t testing.TB, extra ...string) *redisServer {
	t.Helper()
	r := &redisServer{t: t, bin: redisBinary(t), port: proctest.FreePort(t), dir: t.TempDir()}
	r.args = append([]string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--daemonize", "no",
		"--loglevel", "warning", "--logfile", filepath.Join(r.dir, "redis.log")}, extra...)
	r.Start()
	return r
}

// Addr is host:port.
func (r *redisServer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// URL is the FEATURE_STORE value for database db.
func (r *redisServer) URL(db int) string { return fmt.Sprintf("redis://%s/%d", r.Addr(), db) }

// Client is a go-redis client on database 0, closed at the end of the test.
func (r *redisServer) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr()})
	r.t.Cleanup(func() { c.Close() })
	return c
}

// Start (re)starts the server on its port and waits until it answers.
func (r *redisServer) Start() {
	r.t.Helper()
	cmd := exec.Command(r.bin, r.args...)
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start %s: %v", r.bin, err)
	}
	r.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.Kill()
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			r.t.Fatalf("redis-server on %s did not answer: %v\n%s", r.Addr(), err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (r *redisServer) Kill() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGCONT) // a paused server would not die before it resumes
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// Pause freezes the server (SIGSTOP): connections stay open and nothing answers.
func (r *redisServer) Pause() { r.signal(syscall.SIGSTOP) }

// Resume undoes Pause.
func (r *redisServer) Resume() { r.signal(syscall.SIGCONT) }

func (r *redisServer) signal(s syscall.Signal) {
	r.t.Helper()
	if err := r.cmd.Process.Signal(s); err != nil {
		r.t.Fatalf("signal %v to redis-server: %v", s, err)
	}
}
