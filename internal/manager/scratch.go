package manager

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/weirgitops/weir/internal/scratch"
)

// addScratch makes this process' own directory under tempDir (--temp-dir), where every
// controller clones, unpacks and builds, after removing what killed processes left there; the
// directory goes when the manager stops. It returns the directory.
func addScratch(mgr ctrl.Manager, tempDir string) (string, error) {
	d, err := scratch.New(tempDir)
	if err != nil {
		return "", err
	}
	if err := mgr.Add(scratchCloser{d}); err != nil {
		_ = d.Close()
		return "", fmt.Errorf("add temporary directory: %w", err)
	}
	return d.Path(), nil
}

// scratchCloser removes the scratch directory when the manager stops, in every replica.
type scratchCloser struct{ d *scratch.Dir }

func (c scratchCloser) Start(ctx context.Context) error {
	<-ctx.Done()
	return c.d.Close()
}

func (scratchCloser) NeedLeaderElection() bool { return false }
