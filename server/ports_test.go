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
	"github.com/devapi-dev/devapi/internal/placement"
	"github.com/devapi-dev/devapi/internal/redistest"
	"github.com/devapi-dev/devapi/sqlitestore"
)

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
// after placement.BusyFor; a full range answers 400; a delete frees its port for the
// next create; and a database deleted behind the server's back frees its
// port once the range seems full.
func TestCreateTakesLowestFreePort(t *testing.T) {
	lo, _ := redistest.Ports(t, 4) // lo to lo+3, of a block no other test holds
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
	now = now.Add(placement.BusyFor)
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
	const n = 6
	lo, _ := redistest.Ports(t, n) // lo to lo+n-1, of a block no other test holds
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
