package peers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// Server is one server process under test.
type Server struct {
	Name    string
	Version string
	Cmd     *exec.Cmd
	Base    string // http://127.0.0.1:port
	log     *os.File
}

// PID is the server's process (its CPU, and its children's, is what it costs).
func (s *Server) PID() int { return s.Cmd.Process.Pid }

// Start runs argv in dir with env (on top of this process's) and waits until GET ready answers
// 200. Its output goes to logPath. The process gets its own process group, so Stop ends its
// workers too.
func Start(ctx context.Context, name, version, dir, logPath string, env []string, port int, ready string, argv ...string) (*Server, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s := &Server{Name: name, Version: version, Cmd: cmd, Base: "http://127.0.0.1:" + strconv.Itoa(port), log: log}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		resp, err := http.Get(s.Base + ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				go func() { <-exited }()
				return s, nil
			}
		}
		select {
		case err := <-exited:
			log.Close()
			out, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("%s exited before it was ready (%v); its log ends:\n%s", name, err, tail(out, 2000))
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("%s not ready after 3 minutes: see %s", name, logPath)
		}
	}
}

// Stop ends the server's process group: SIGTERM, then SIGKILL after 5 s.
func (s *Server) Stop() {
	pgid := s.Cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	for range 50 {
		if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	s.log.Close()
}

// FreePort is a loopback port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
