package gitserver

// T is the part of testing.TB the servers use. A *testing.T satisfies it; so can a program
// such as the demo, which runs the same servers outside a test.
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}
