//go:build unix

package scratch

import (
	"os"
	"syscall"
)

const noFollow = syscall.O_NOFOLLOW

// lock takes f's exclusive lock without waiting: an error means another holder.
func lock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
