// Command weir is the weir GitOps toolkit: `weir controller` runs every controller in one
// process, and the other verbs are the command line.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/weirgitops/weir/internal/cli"
	"github.com/weirgitops/weir/internal/residency"
)

func main() {
	// Package initialisation is over: the executable's pages it touched leave the resident set
	// (only in `weir controller`; see internal/residency).
	residency.Started()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx)
	stop()
	os.Exit(code)
}
