//go:build unix

package ecgrid

import (
	"errors"
	"os"
	"syscall"
)

// tryLock takes a non-blocking exclusive flock on f. It reports false (and no error) when
// another open file (of this or another process) holds it. The kernel releases the lock
// when the holder's file is closed, including when the process is killed with SIGKILL.
func tryLock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}
