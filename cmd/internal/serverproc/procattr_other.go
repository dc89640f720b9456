//go:build !linux

package serverproc

import "syscall"

// procAttr: outside Linux there is no parent-death signal.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
