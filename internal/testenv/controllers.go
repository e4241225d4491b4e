package testenv

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/weirgitops/weir/internal/manager"
)

// WithControllers is a setup function for Run that starts weir's Manager in-process with the
// named controllers, its artifact store in a temporary directory and its servers on free
// loopback ports. The Manager stops when the tests end; its log, at debug level, is kept for
// Env.Logs.
func WithControllers(names ...string) func(context.Context, *Env) error {
	return WithManager(func(o *manager.Options) { o.Controllers = names })
}

// WithManager is WithControllers with the Manager's options edited by configure, which sets
// at least the controllers to run.
func WithManager(configure func(*manager.Options)) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error { return e.startManager(ctx, configure) }
}

// StartManager starts another in-process Manager for one test, configured like WithManager's,
// and stops it when the test ends. Give it a --watch-label-selector that the package's Manager
// excludes, so that each object has one manager.
func (e *Env) StartManager(t testing.TB, configure func(*manager.Options)) {
	t.Helper()
	if err := e.startManager(t.Context(), configure); err != nil {
		t.Fatal(err)
	}
}

func (e *Env) startManager(ctx context.Context, configure func(*manager.Options)) error {
	opts := manager.DefaultOptions()
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
	configure(&opts)
	log := zap.New(zap.WriteTo(&e.logs), zap.Level(zapcore.DebugLevel), zap.JSONEncoder())
	cfg := rest.CopyConfig(e.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			e.requests.Add(1)
			return rt.RoundTrip(req)
		})
	})
	mgr, err := manager.New(ctx, cfg, opts, log)
	if err != nil {
		return err
	}
	go func() { _ = mgr.Start(ctx) }()
	return nil
}

// APIRequests returns how many requests the in-process Manager has sent to the API server
// (watches count once, when they start).
func (e *Env) APIRequests() int64 { return e.requests.Load() }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// Logs returns what the in-process Manager has logged so far.
func (e *Env) Logs() string { return e.logs.String() }

// SyncBuffer is a bytes.Buffer safe for concurrent writers and readers, for logs that a test
// reads while processes or goroutines write them.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
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
