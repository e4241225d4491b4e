package cli

import "errors"

// exitCoder is an error that chooses the process exit code, such as diff's "differences found".
type exitCoder interface {
	error
	ExitCode() int
}

func asExitCoder(err error, target *exitCoder) bool {
	return errors.As(err, target)
}

// exitError carries an exit code and an optional message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }
func (e *exitError) ExitCode() int { return e.code }

// diffExit is a diff command's result, as diff(1): 2 when the comparison failed, 1 when there
// are differences, 0 otherwise.
func diffExit(changed bool, err error) error {
	switch {
	case err != nil:
		return &exitError{code: 2, msg: err.Error()}
	case changed:
		return &exitError{code: 1}
	}
	return nil
}
