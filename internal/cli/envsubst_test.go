package cli_test

import (
	"strings"
	"testing"
)

// TestEnvsubst: ${VAR} and defaults from the environment; --strict refuses a variable without a
// value or default and names it.
func TestEnvsubst(t *testing.T) {
	t.Setenv("WEIR_TEST_DOMAIN", "example.org")
	in := []byte("host: app.${WEIR_TEST_DOMAIN}\nreplicas: ${WEIR_TEST_REPLICAS:=2}\nempty: \"${WEIR_TEST_UNSET}\"\n")
	out, errOut, code := weir(t, in, "envsubst")
	if want := "host: app.example.org\nreplicas: 2\nempty: \"\"\n"; code != 0 || out != want {
		t.Errorf("envsubst: exit %d, stderr %q\n got %q\nwant %q", code, errOut, out, want)
	}
	if _, errOut, code := weir(t, in, "envsubst", "--strict"); code == 0 || !strings.Contains(errOut, "WEIR_TEST_UNSET") {
		t.Errorf("--strict: exit %d, stderr %q: want the undefined variable named", code, errOut)
	}
}
