package main

import "syscall"

// childProcAttr makes the kernel send SIGTERM to a child whose parent dies,
// so a crashed bench leaves no server behind.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
