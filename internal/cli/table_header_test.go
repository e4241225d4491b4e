package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestTableHeaders pins every table's header to flux's: the columns, their order, and the
// NAMESPACE column first with -A. A column weir adds must come after flux's.
func TestTableHeaders(t *testing.T) {
	status := "NAME REVISION SUSPENDED READY MESSAGE"
	cases := []struct {
		name   string
		header []string
		want   string
	}{
		{"get kustomizations", tableHeader(ksKind, &getFlags{}), status},
		{"get helmreleases", tableHeader(hrKind, &getFlags{}), status},
		{"get sources git", tableHeader(gitKind, &getFlags{}), status},
		{"get sources oci", tableHeader(ociKind, &getFlags{}), status},
		{"get sources helm", tableHeader(helmRepoKind, &getFlags{}), status},
		{"get sources chart", tableHeader(chartKind, &getFlags{}), status},
		{"get sources bucket", tableHeader(bucketKind, &getFlags{}), status},
		{"get sources external", tableHeader(externalKind, &getFlags{}), status},
		{"get alerts", tableHeader(alertKind, &getFlags{}), "NAME SUSPENDED READY MESSAGE"},
		{"get alert-providers", tableHeader(providerKind, &getFlags{}), "NAME READY MESSAGE"},
		{"get receivers", tableHeader(receiverKind, &getFlags{}), "NAME SUSPENDED READY MESSAGE"},
		{"get images repository", tableHeader(imageRepoKind, &getFlags{}), "NAME LAST SCAN SUSPENDED READY MESSAGE"},
		{"get images policy", tableHeader(imagePolicyKind, &getFlags{}), "NAME LATEST IMAGE READY MESSAGE"},
		{"get images update", tableHeader(imageUpdateKind, &getFlags{}), "NAME LAST RUN SUSPENDED READY MESSAGE"},
		{"get kustomizations -A", tableHeader(ksKind, &getFlags{allNamespaces: true}), "NAMESPACE " + status},
		{"get images policy -A", tableHeader(imagePolicyKind, &getFlags{allNamespaces: true}), "NAMESPACE NAME LATEST IMAGE READY MESSAGE"},
		{"get alerts --no-header", tableHeader(alertKind, &getFlags{noHeader: true}), ""},
		{"events", eventHeader(false), "LAST SEEN TYPE REASON OBJECT MESSAGE"},
		{"events -A", eventHeader(true), "NAMESPACE LAST SEEN TYPE REASON OBJECT MESSAGE"},
		{"stats", statsHeader, "RECONCILERS RUNNING FAILING SUSPENDED STORAGE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := printTable(&buf, tc.header, nil); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(strings.Fields(buf.String()), " "); got != tc.want {
				t.Errorf("header %q, want %q", got, tc.want)
			}
		})
	}
	for _, k := range allKinds {
		if len(k.Headers) < 2 || k.Headers[len(k.Headers)-2] != "Ready" || k.Headers[len(k.Headers)-1] != "Message" {
			t.Errorf("%s: header %v does not end in READY MESSAGE, as flux's", k.Kind, k.Headers)
		}
	}
}
