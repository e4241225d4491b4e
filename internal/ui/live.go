package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// broadcaster fans informer changes out to the browsers' streams.
type broadcaster struct {
	mu   sync.Mutex
	subs map[chan string]struct{}
}

func newBroadcaster() *broadcaster { return &broadcaster{subs: map[chan string]struct{}{}} }

// watch registers handlers on the informers of every Flux kind the cluster serves.
func (b *broadcaster) watch(ctx context.Context, informers cache.Informers) error {
	for _, k := range Kinds {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(k.GVK())
		inf, err := informers.GetInformer(ctx, u, cache.BlockUntilSynced(false))
		if err != nil {
			continue // not served by this cluster
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { b.publish(k.Kind, obj) },
			UpdateFunc: func(_, obj any) { b.publish(k.Kind, obj) },
			DeleteFunc: func(obj any) { b.publish(k.Kind, obj) },
		}); err != nil {
			return fmt.Errorf("watch %s: %w", k.Kind, err)
		}
	}
	return nil
}

func (b *broadcaster) publish(kind string, obj any) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	o, ok := obj.(interface {
		GetNamespace() string
		GetName() string
	})
	if !ok {
		return
	}
	id := kind + "/" + o.GetNamespace() + "/" + o.GetName()
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- id:
		default: // a slow browser gets the next batch
		}
	}
}

func (b *broadcaster) subscribe() chan string {
	ch := make(chan string, 1024)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	return ch
}

func (b *broadcaster) unsubscribe(ch chan string) {
	b.mu.Lock()
	delete(b.subs, ch)
	b.mu.Unlock()
}

// batchInterval coalesces bursts of changes into one message.
const batchInterval = 200 * time.Millisecond

// stream sends the ids of changed objects as server-sent events, batched.
func (srv *Server) stream(w http.ResponseWriter, r *http.Request, _ *Session) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	ch := srv.live.subscribe()
	defer srv.live.unsubscribe(ch)
	_, _ = fmt.Fprint(w, ": weir\n\n")
	flusher.Flush()
	tick := time.NewTicker(batchInterval)
	defer tick.Stop()
	keepalive := time.NewTicker(25 * time.Second)
	defer keepalive.Stop()
	pending := map[string]struct{}{}
	for {
		select {
		case <-r.Context().Done():
			return
		case id := <-ch:
			pending[id] = struct{}{}
		case <-keepalive.C:
			_, _ = fmt.Fprint(w, ": keepalive\n\n")
			flusher.Flush()
		case <-tick.C:
			if len(pending) == 0 {
				continue
			}
			ids := make([]string, 0, len(pending))
			for id := range pending {
				ids = append(ids, id)
			}
			pending = map[string]struct{}{}
			data, _ := json.Marshal(map[string]any{"changed": ids})
			if _, err := fmt.Fprintf(w, "event: changed\ndata: %s\n\n", data); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}
