package source

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/weirgitops/weir/internal/source/git"
)

// authFromSecret reads Flux's Git Secret keys; the legacy caFile/certFile/keyFile names are
// accepted too.
func authFromSecret(s *corev1.Secret) git.Auth { return git.AuthFromData(s.Data) }
