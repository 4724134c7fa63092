package main

import "syscall"

// syscallKill is SIGKILL: the function gets no chance to commit or flush.
const syscallKill = syscall.SIGKILL
