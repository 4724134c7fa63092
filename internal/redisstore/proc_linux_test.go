package redisstore_test

import "syscall"

// procAttr makes a child die with the test binary, so that no server outlives a crashed test.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
