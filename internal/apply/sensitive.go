package apply

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/weirgitops/weir/internal/redact"
)

// withSecrets returns opts with the values of the Secrets among objs added to Sensitive, so
// that an error about any object of the apply can be cleaned of them.
func (o ApplyOptions) withSecrets(objs []*unstructured.Unstructured) ApplyOptions {
	var values []string
	for _, obj := range objs {
		values = append(values, SecretValues(obj)...)
	}
	if len(values) > 0 {
		o.Sensitive = append(append([]string(nil), o.Sensitive...), values...)
	}
	return o
}

// SecretValues returns the values of a Secret's data (decoded, and as written when they do
// not decode) and stringData, and each of their lines, or nil when obj is not a Secret.
func SecretValues(obj *unstructured.Unstructured) []string {
	if obj == nil || !isSecret(obj) {
		return nil
	}
	var out []string
	add := func(v string) {
		out = append(out, v)
		if strings.Contains(v, "\n") {
			for _, line := range strings.Split(v, "\n") {
				out = append(out, strings.TrimSpace(line))
			}
		}
	}
	for _, field := range []string{"data", "stringData"} {
		m, ok := obj.Object[field].(map[string]any)
		if !ok {
			continue
		}
		for _, v := range m {
			s := fmt.Sprint(v)
			add(s)
			if field == "data" {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil {
					add(string(b))
				}
			}
		}
	}
	return out
}

// objectError removes from err, an error about applying obj, the values of opts.Sensitive
// and of obj's own data, and any URL userinfo.
func (o ApplyOptions) objectError(obj *unstructured.Unstructured, err error) error {
	if err == nil {
		return nil
	}
	return redact.Err(err, append(o.Sensitive, SecretValues(obj)...)...)
}

// secretError replaces the message of an API server's answer about the Secret obj by one that
// cannot quote its data (an invalid Secret's message echoes the offending value): the
// server's reason and the fields and cause types it names. Errors that never carry object
// content (not found, conflicts, throttling) keep their text. Errors about other kinds are
// returned as they are.
func secretError(obj *unstructured.Unstructured, err error) error {
	if err == nil || !isSecret(obj) {
		return err
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return &hiddenError{msg: "secret values hidden: the request failed before reaching the API server", err: err}
	}
	st := status.Status()
	switch {
	case apierrors.IsNotFound(err), apierrors.IsConflict(err), apierrors.IsAlreadyExists(err),
		apierrors.IsUnauthorized(err), apierrors.IsTimeout(err), apierrors.IsServerTimeout(err),
		apierrors.IsTooManyRequests(err), apierrors.IsServiceUnavailable(err):
		return err
	case IsImmutableError(err):
		// newImmutableError names the fields only; keep the server's causes for it.
		return &hiddenError{msg: "secret rejected (immutable field, values hidden)", err: err}
	}
	var fields []string
	if d := st.Details; d != nil {
		for _, c := range d.Causes {
			f := string(c.Type)
			if c.Field != "" {
				f = c.Field + ": " + f
			}
			if f != "" {
				fields = append(fields, f)
			}
		}
	}
	for _, re := range safeSecretText {
		if m := re.FindString(st.Message); m != "" {
			fields = append(fields, m)
		}
	}
	reason := string(st.Reason)
	if reason == "" {
		reason = fmt.Sprintf("status %d", st.Code)
	}
	msg := fmt.Sprintf("secret rejected (%s, values hidden)", reason)
	if len(fields) > 0 {
		msg += ": " + strings.Join(fields, "; ")
	}
	return &hiddenError{msg: msg, err: &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: st.Status, Code: st.Code, Reason: st.Reason, Message: msg,
	}}}
}

// safeSecretText are the parts of the API server's messages about a Secret that say what is
// wrong without quoting a value: the field and type of a typed-patch failure, and bad base64.
var safeSecretText = []*regexp.Regexp{
	regexp.MustCompile(`\.(data|stringData)\.[A-Za-z0-9._-]+: expected [a-z]+`),
	regexp.MustCompile(`illegal base64 data at input byte [0-9]+`),
}

// hiddenError shows a message without the content of its cause, keeping the cause's kind
// for errors.As (an API status, with the message replaced).
type hiddenError struct {
	msg string
	err error
}

func (e *hiddenError) Error() string { return e.msg }
func (e *hiddenError) Unwrap() error { return e.err }
