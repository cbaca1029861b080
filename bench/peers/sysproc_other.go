//go:build !linux

package peers

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
