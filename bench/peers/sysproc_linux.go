package peers

import "syscall"

// sysProcAttr makes the kernel send go tool SIGTERM, which it forwards to
// opa, should this process die without stopping the server.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
