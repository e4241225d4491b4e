//go:build !unix

package scratch

import (
	"errors"
	"os"
)

const noFollow = 0

// lock cannot tell a holder here: every directory counts as held, and none is swept.
func lock(*os.File) error { return errors.ErrUnsupported }
