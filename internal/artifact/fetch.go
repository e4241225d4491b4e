package artifact

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"

	"github.com/weirgitops/weir/internal/redact"
)

// Fetch downloads an artifact another server (or this store's) serves at url, within limit
// bytes, and checks it against digest ("sha256:<hex>").
func Fetch(ctx context.Context, url, digest string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, redact.Err(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", redact.Text(url), resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", redact.Text(url), ErrTooLarge, limit)
	}
	h := sha256.New()
	h.Write(data)
	if got := digestString(h); got != digest {
		return nil, fmt.Errorf("computed digest '%s' does not match '%s': %w", got, digest, ErrDigestMismatch)
	}
	return data, nil
}
