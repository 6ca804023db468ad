package server

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/embeddedplane"
	"github.com/devapi-dev/devapi/sqlitestore"
)

func TestPortSetNext(t *testing.T) {
	// 100-229 spans three words, the last one partly.
	p := newPortSet(PortRange{Min: 100, Max: 229})
	for port := 100; port <= 228; port++ {
		if port != 163 && port != 164 {
			p.set(port, true)
		}
	}
	p.set(99, true)  // outside: ignored
	p.set(300, true) // outside: ignored
	for _, tc := range []struct {
		from, want int
		ok         bool
	}{
		{0, 163, true},
		{163, 163, true},
		{164, 164, true},
		{165, 229, true},
		{229, 229, true},
		{230, 0, false},
	} {
		if got, ok := p.next(tc.from); got != tc.want || ok != tc.ok {
			t.Errorf("next(%d) = %d, %v; want %d, %v", tc.from, got, ok, tc.want, tc.ok)
		}
	}
	p.set(229, true)
	if got, ok := p.next(165); ok {
		t.Errorf("next(165) of a full tail = %d, want none", got)
	}
	p.set(163, false)
	p.set(164, true)
	if got, ok := p.next(0); got != 163 || !ok {
		t.Errorf("after set(163, false): next(0) = %d, %v; want 163, true", got, ok)
	}
	full := newPortSet(PortRange{Min: 1, Max: 64})
	for port := 1; port <= 64; port++ {
		full.set(port, true)
	}
	if got, ok := full.next(1); ok {
		t.Errorf("next of a full one-word set = %d, want none", got)
	}
}

// portServer is a Server on SQLite and embeddedplane with the port range
// lo-hi and the clock *now, and a create through its handler.
type portServer struct {
	store  devapi.Store
	plane  devapi.Plane
	handle http.Handler
}

const portEmail, portKey = "ports@example.com", "ports-key"

func newPortServer(t *testing.T, lo, hi int, now *time.Time) *portServer {
	t.Helper()
	store, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "devapi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if _, err := devapi.EnsureAPIKey(t.Context(), store, portEmail, portKey, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	plane := embeddedplane.New(devapi.PlaneConfig{})
	t.Cleanup(func() { _ = plane.Close() })
	s, err := New(Config{Store: store, Plane: plane, Ports: PortRange{Min: lo, Max: hi}, Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return &portServer{store: store, plane: plane, handle: s.Handler()}
}

// do sends a request and returns its status and the database id and port
// of the answer, if it has them.
func (p *portServer) do(method, path, body string) (code int, id string, port int) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.SetBasicAuth(portEmail, portKey)
	rec := httptest.NewRecorder()
	p.handle.ServeHTTP(rec, req)
	var db struct {
		ID   string `json:"database_id"`
		Port int    `json:"port"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &db)
	return rec.Code, db.ID, db.Port
}

func (p *portServer) create() (code int, id string, port int) {
	return p.do(http.MethodPost, "/v2/redis/database", `{"database_name":"p","primary_region":"us-east-1","tls":false}`)
}

// TestCreateTakesLowestFreePort: a create takes the lowest port no database
// holds and nothing listens on; a port another process held is tried again
// after busyFor; a full range answers 400; a delete frees its port for the
// next create; and a database deleted behind the server's back frees its
// port once the range seems full.
func TestCreateTakesLowestFreePort(t *testing.T) {
	const lo = 32700 // 32700-32703: a range no other test uses
	now := time.Now()
	p := newPortServer(t, lo, lo+3, &now)
	create := func(want int) string {
		t.Helper()
		code, id, port := p.create()
		if code != http.StatusOK || port != want {
			t.Fatalf("create: %d, port %d; want 200, port %d", code, port, want)
		}
		return id
	}

	other, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(lo)))
	if err != nil {
		t.Skipf("port %d is taken: %v", lo, err)
	}
	a := create(lo + 1) // lo is another process's
	_ = other.Close()
	b := create(lo + 2) // lo is skipped for busyFor
	now = now.Add(busyFor)
	create(lo)
	create(lo + 3)
	if code, _, _ := p.create(); code != http.StatusBadRequest {
		t.Fatalf("create in a full range: %d, want 400", code)
	}
	if code, _, _ := p.do(http.MethodDelete, "/v2/redis/database/"+b, ""); code != http.StatusOK {
		t.Fatalf("delete: %d", code)
	}
	create(lo + 2)

	if err := p.store.DeleteDatabase(t.Context(), portEmail, a); err != nil {
		t.Fatal(err)
	}
	if err := p.plane.Remove(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	create(lo + 1)
}

// TestConcurrentCreatesTakeDistinctPorts: creates that run side by side
// fill the range, each database on a port of its own.
func TestConcurrentCreatesTakeDistinctPorts(t *testing.T) {
	const lo, n = 32704, 6 // 32704-32709: a range no other test uses
	now := time.Now()
	p := newPortServer(t, lo, lo+n-1, &now)
	ports := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if code, _, port := p.create(); code == http.StatusOK {
				ports <- port
			} else {
				t.Errorf("create: %d", code)
			}
		})
	}
	wg.Wait()
	close(ports)
	seen := map[int]bool{}
	for port := range ports {
		if seen[port] || port < lo || port >= lo+n {
			t.Errorf("port %d given twice or outside %d-%d", port, lo, lo+n-1)
		}
		seen[port] = true
	}
}

// TestParsePortRange reads MIN-MAX and refuses the rest.
func TestParsePortRange(t *testing.T) {
	for _, c := range []struct {
		in   string
		want PortRange
		ok   bool
	}{
		{"16380-17379", PortRange{Min: 16380, Max: 17379}, true},
		{"1-65535", PortRange{Min: 1, Max: 65535}, true},
		{"5-5", PortRange{Min: 5, Max: 5}, true},
		{"0-10", PortRange{}, false},
		{"10-65536", PortRange{}, false},
		{"20-10", PortRange{}, false},
		{"16380", PortRange{}, false},
		{"a-b", PortRange{}, false},
		{"", PortRange{}, false},
	} {
		got, err := ParsePortRange(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParsePortRange(%q) = %v, %v; want %v, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}
