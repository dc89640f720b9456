package stack

import "syscall"

// childProcAttr makes the kernel send SIGTERM to a Child whose parent dies,
// so a crashed bench leaves no server behind.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
