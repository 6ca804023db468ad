package restapi_test

import (
	"strings"
	"testing"

	"github.com/devapi-dev/devapi/restapi"
)

// BenchmarkStreamMessages: a message of 100 bytes published on a Redis
// (miniredis over TCP) and read from a /subscribe stream, one at a time
// (publish, then wait for its line): the latency of the stream's path.
func BenchmarkStreamMessages(b *testing.B) {
	k := newKit(b, restapi.Config{})
	db := k.addDB("bench")
	s := openStream(b, k.url, "POST", "/subscribe/bench", db.token, "[]")
	s.expect("data: subscribe,bench,1")
	msg := strings.Repeat("m", 100)
	b.ReportAllocs()
	for b.Loop() {
		db.redis.Publish("bench", msg)
		if line := s.next(); len(line) != len("data: message,bench,")+100 {
			b.Fatalf("got %q", line)
		}
	}
}
