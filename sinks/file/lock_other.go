//go:build !unix

package file

import "os"

// lock is a no-op where flock does not exist; run one sink process per file there.
func lock(*os.File) error { return nil }
