package notify

import (
	"net/http"
	"strings"
	"testing"
)

func TestCDEventsReceiver(t *testing.T) {
	event := func(typ string) string {
		return `{"context":{"specversion":"0.4.1","id":"271069a8-fc18-44f1-b38f-9d70a1695819",` +
			`"source":"/event/source/123","type":"` + typ + `","timestamp":"2023-03-20T14:27:05.315384Z"},` +
			`"subject":{"id":"mySubject123","source":"/event/source/123","content":{"pipelineName":"myPipeline","url":"https://example.com/myPipeline"}}}`
	}
	const queued = "dev.cdevents.pipelinerun.queued.0.2.0"
	hdr := func(ceType string) map[string]string {
		return map[string]string{"Content-Type": "application/json", "Ce-Type": ceType}
	}
	spec := ReceiverSpec{Events: []string{queued}}
	runReceiverCases(t, "cdevents", []receiverCase{
		{name: "pipeline run queued", spec: spec, header: hdr(queued), body: event(queued), wantEvent: queued, wantBody: event(queued)},
		{name: "Ce-Type compared case-insensitively", spec: spec, header: hdr(strings.ToUpper(queued)), body: event(queued), wantEvent: strings.ToUpper(queued)},
		{name: "later patch of the type", header: hdr(queued), body: event("dev.cdevents.pipelinerun.queued.0.2.1"), wantEvent: queued},
		{name: "Ce-Type not listed is ignored", spec: spec, header: hdr("dev.cdevents.taskrun.started.0.2.0"), body: event("dev.cdevents.taskrun.started.0.2.0"), wantEvent: "dev.cdevents.taskrun.started.0.2.0", wantIgnore: true},
		{name: "change created is at 0.3", header: hdr("x"), body: event("dev.cdevents.change.created.0.3.0"), wantEvent: "x"},
		{name: "unknown type", header: hdr(queued), body: event("dev.cdevents.pipelinerun.exploded.0.2.0"), wantReject: http.StatusBadRequest},
		{name: "other minor version", header: hdr(queued), body: event("dev.cdevents.pipelinerun.queued.0.3.0"), wantReject: http.StatusBadRequest},
		{name: "not a cdevents type", header: hdr(queued), body: event("com.example.push"), wantReject: http.StatusBadRequest},
		{name: "missing subject", header: hdr(queued), body: `{"context":{"specversion":"0.4.1","id":"1","source":"/s","type":"` + queued + `","timestamp":"2023-03-20T14:27:05Z"}}`, wantReject: http.StatusBadRequest},
		{name: "missing id", header: hdr(queued), body: strings.Replace(event(queued), `"id":"271069a8-fc18-44f1-b38f-9d70a1695819",`, "", 1), wantReject: http.StatusBadRequest},
		{name: "bad timestamp", header: hdr(queued), body: strings.Replace(event(queued), "2023-03-20T14:27:05.315384Z", "yesterday", 1), wantReject: http.StatusBadRequest},
		{name: "malformed JSON", header: hdr(queued), body: `{"context":`, wantReject: http.StatusBadRequest},
	})
}
