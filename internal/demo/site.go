package main

import (
	"context"
	"fmt"
	"io"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/weirgitops/weir/internal/testenv"
)

// site is what the demo reconciles.
type site struct {
	env         *testenv.Env
	storageAddr string
}

func startSite(_ context.Context, _ io.Writer, env *testenv.Env, _ string) (*site, error) {
	return &site{env: env, storageAddr: freeAddr()}, nil
}

func (s *site) Close() {}

// converge prints weir's view of the cluster: the Flux kinds it serves.
func (s *site) converge(ctx context.Context, out io.Writer, _ func(...string), _ time.Duration) error {
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := s.env.Client.List(ctx, &crds); err != nil {
		return fmt.Errorf("list CRDs: %w", err)
	}
	fmt.Fprintf(out, "✔ %d Flux kinds served:\n", len(crds.Items))
	for _, crd := range crds.Items {
		fmt.Fprintf(out, "  %s.%s\n", crd.Spec.Names.Kind, crd.Spec.Group)
	}
	return nil
}
