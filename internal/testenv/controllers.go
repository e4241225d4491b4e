package testenv

import (
	"context"
	"net"
	"os"

	"github.com/go-logr/logr"

	"github.com/weirgitops/weir/internal/manager"
)

// WithControllers is a setup function for Run that starts weir's Manager in-process with the
// named controllers, its artifact store in a temporary directory and its servers on free
// loopback ports. The Manager stops when the tests end.
func WithControllers(names ...string) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		opts := manager.DefaultOptions()
		opts.Controllers = names
		opts.MetricsAddr, opts.HealthAddr = "0", "0"
		var err error
		if opts.StorageAddr, err = FreeAddr(); err != nil {
			return err
		}
		if opts.ReceiverAddr, err = FreeAddr(); err != nil {
			return err
		}
		if opts.StoragePath, err = os.MkdirTemp(e.dir, "storage-"); err != nil {
			return err
		}
		mgr, err := manager.New(e.Config, opts, logr.Discard())
		if err != nil {
			return err
		}
		go func() { _ = mgr.Start(ctx) }()
		return nil
	}
}

// FreeAddr returns a loopback address with a port nobody listens on.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
