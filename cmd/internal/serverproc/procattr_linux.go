package serverproc

import "syscall"

// procAttr makes the kernel send SIGTERM to a child whose parent dies, so
// a crashed bench or test leaves no server behind.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} }
