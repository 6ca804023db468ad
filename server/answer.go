package server

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/jsonesc"
)

// resetPasswordAnswer is reset-password's 200 answer, with the bytes and
// headers of genserver.ResetPassword200JSONResponse for what
// toDatabase(d, true) says, in the given state. It is the hottest
// answer devapi writes, so it is appended straight from the stored
// database into a pooled buffer (appendResetAnswer), without the generated
// type in between, encoding/json's reflection, a new encoder, or a buffer
// grown from empty every time.
//
// The bytes are encoding/json's of the generated type, exactly: tests
// compare the two for random and awkward databases
// (FuzzResetPasswordAnswer, whose seeds run with every go test), so a
// change of the generated type or of toDatabase that appendResetAnswer
// does not follow fails there. A value encoding/json refuses (a NaN or
// infinite number, which no plan has: TestPlanRequestLimitsAreNumbers)
// is an error and writes nothing, as it is for the generated response.
type resetPasswordAnswer struct {
	d           *devapi.Database
	state       string    // the state the answer tells (healthBook.state)
	ids         shortIDs  // newShortIDs(d.ID), kept from an earlier reset
	contentType [1]string // the Content-Type header's value
}

// answerBuffers holds *[]byte buffers for the answer's bytes.
var answerBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 2048)
	return &b
}}

// maxPooledAnswer is the largest buffer put back into answerBuffers.
const maxPooledAnswer = 16 << 10

// VisitResetPasswordResponse writes the answer as
// genserver.ResetPassword200JSONResponse does.
func (a *resetPasswordAnswer) VisitResetPasswordResponse(w http.ResponseWriter) error {
	p := answerBuffers.Get().(*[]byte)
	defer func() {
		if cap(*p) <= maxPooledAnswer {
			answerBuffers.Put(p)
		}
	}()
	b, ok := appendResetAnswer((*p)[:0], a.d, a.state, &a.ids)
	*p = b
	if !ok {
		return fmt.Errorf("server: reset-password: the request limit of plan %q has no JSON number", a.d.Plan)
	}
	b = append(b, '\n') // as json.Encoder ends every value
	*p = b
	// The key is canonical, and the value's slice is the answer's: no
	// Header.Set, which checks the key and allocates the slice.
	a.contentType[0] = "application/json"
	w.Header()["Content-Type"] = a.contentType[:]
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	return err
}

// appendResetAnswer appends, as encoding/json does, the
// gen.DatabaseWithCredentials holding what toDatabase(d, true) says, with
// state: its fields in declaration order (the generated type's), the
// optional ones toDatabase leaves nil (next_daily_backup_time) left out;
// ids are newShortIDs(d.ID). false if encoding/json would refuse a value.
func appendResetAnswer(b []byte, d *devapi.Database, state string, ids *shortIDs) ([]byte, bool) {
	typ, label := devapi.PlanType(d.Plan)
	limits, _ := devapi.PlanLimits(d.Plan)
	b = append(b, `{"all_members":[`...)
	b = appendString(b, d.PrimaryRegion)
	for _, r := range d.ReadRegions {
		b = appendString(append(b, ','), r)
	}
	b = append(b, `],"allowed_ip_ranges":`...)
	b = appendList(b, d.AllowedIPs)
	b = append(b, `,"auto_upgrade":`...)
	b = strconv.AppendBool(b, d.AutoUpgrade)
	b = append(b, `,"budget":`...)
	b = strconv.AppendInt(b, d.Budget, 10)
	b = append(b, `,"cluster_id":"`...)
	b = append(b, ids.cluster()...)
	b = append(b, `","consistent":false,"creation_time":`...)
	b = strconv.AppendInt(b, d.CreatedAt.Unix(), 10)
	b = append(b, `,"customer_id":`...)
	b = appendString(b, d.Owner)
	b = append(b, `,"daily_backup_enabled":`...)
	b = strconv.AppendBool(b, d.DailyBackup)
	b = append(b, `,"database_id":`...)
	b = appendString(b, d.ID)
	b = append(b, `,"database_name":`...)
	b = appendString(b, d.Name)
	b = append(b, `,"database_type":`...)
	b = appendString(b, label)
	b = append(b, answerConnIdle...)
	b = strconv.AppendInt(b, limits.DailyBandwidthLimit, 10)
	b = append(b, `,"db_disk_threshold":`...)
	b = strconv.AppendInt(b, limits.DiskThreshold, 10)
	b = append(b, `,"db_eviction":`...)
	b = strconv.AppendBool(b, d.Eviction)
	b = append(b, answerLua...)
	b = strconv.AppendInt(b, limits.MaxClients, 10)
	b = append(b, `,"db_max_commands_per_second":`...)
	b = strconv.AppendInt(b, limits.MaxCommandsPerSec, 10)
	b = append(b, `,"db_max_entry_size":`...)
	b = strconv.AppendInt(b, limits.MaxEntrySize, 10)
	b = append(b, answerMaxLoads...)
	b = strconv.AppendInt(b, limits.MaxRequestSize, 10)
	b = append(b, `,"db_memory_threshold":`...)
	b = strconv.AppendInt(b, limits.MemoryThreshold, 10)
	b = append(b, `,"db_request_limit":`...)
	b, ok := appendFloat(b, limits.RequestLimit)
	b = append(b, answerStoreMaxIdle...)
	b = appendString(b, d.Endpoint)
	b = append(b, `,"eviction":`...)
	b = strconv.AppendBool(b, d.Eviction)
	b = append(b, `,"last_plan_upgrade_time":0,"modifying_state":"","multizone":false,"password":`...)
	b = appendString(b, d.Password)
	b = append(b, `,"pool_id":"`...)
	b = append(b, ids.pool()...)
	b = append(b, `","port":`...)
	b = strconv.AppendInt(b, int64(d.Port), 10)
	b = append(b, `,"primary_members":[`...)
	b = appendString(b, d.PrimaryRegion)
	b = append(b, `],"primary_region":`...)
	b = appendString(b, d.PrimaryRegion)
	b = append(b, `,"prod_pack_enabled":`...)
	b = strconv.AppendBool(b, d.ProdPack)
	b = append(b, `,"prometheus_enabled":"false","read_only_rest_token":`...)
	b = appendString(b, d.ReadOnlyRestToken)
	b = append(b, `,"read_regions":`...)
	b = appendList(b, d.ReadRegions)
	b = append(b, `,"region":"global","replicas":`...)
	b = strconv.AppendInt(b, int64(1+len(d.ReadRegions)), 10)
	b = append(b, `,"reserved_per_region_price":0,"rest_token":`...)
	b = appendString(b, d.RestToken)
	b = append(b, `,"securityAddons":{"encryptionAtRest":false,"ipWhitelisting":false,"privateLink":false,"tlsMutualAuth":false,"vpcPeering":false},"state":`...)
	b = appendString(b, state)
	b = append(b, `,"tls":`...)
	b = strconv.AppendBool(b, d.TLS)
	b = append(b, `,"type":`...)
	b = appendString(b, typ)
	b = append(b, `,"user_email":`...)
	b = appendString(b, d.Owner)
	return append(b, '}'), ok
}

// The runs of appendResetAnswer's bytes that hold only constants, numbers
// included, written out once instead of formatted for every answer.
var (
	answerConnIdle = `,"db_acl_default_user_status":"true","db_acl_enabled":"false","db_conn_idle_timeout":` +
		strconv.FormatInt(connIdleTimeoutNs, 10) + `,"db_daily_bandwidth_limit":`
	answerLua = `,"db_lua_credits_per_min":` + strconv.FormatInt(luaCreditsPerMin, 10) +
		`,"db_lua_timeout":` + strconv.FormatInt(luaTimeoutNs, 10) + `,"db_max_clients":`
	answerMaxLoads     = `,"db_max_loads_per_sec":` + strconv.FormatInt(maxLoadsPerSec, 10) + `,"db_max_request_size":`
	answerStoreMaxIdle = `,"db_resource_size":"S","db_store_max_idle":` + strconv.FormatInt(storeMaxIdleNs, 10) +
		`,"db_type":"pebble","endpoint":`
)

// appendFloat writes f as encoding/json's float64 encoder does: ES6's
// number formatting ('e' below 1e-6 and from 1e21 on, without a padded
// exponent), and false for NaN and the infinities, which it refuses.
func appendFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// appendList writes a list of strings as toDatabase's non-nil slices are
// written: [] when empty.
func appendList(b []byte, v []string) []byte {
	b = append(b, '[')
	for i, s := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString writes s quoted as encoding/json does with HTML escaping
// on (jsonesc).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b, _ = jsonesc.Append(b, s, true)
	return append(b, '"')
}

// shortIDs are a database's cluster_id and pool_id, 8 hex digits each
// (appendShortID), which reset-password keeps with the database's port
// rather than hash them again for every answer.
type shortIDs [16]byte

func newShortIDs(id string) shortIDs {
	var ids shortIDs
	appendShortID(ids[:0], "cluster", id)
	appendShortID(ids[8:8], "pool", id)
	return ids
}

func (ids *shortIDs) cluster() []byte { return ids[:8] }
func (ids *shortIDs) pool() []byte    { return ids[8:] }

// appendShortID appends a stable 8-hex-character id (cluster_id, pool_id)
// derived from a database id.
func appendShortID(b []byte, kind, id string) []byte {
	var in [128]byte // on the stack for any id devapi makes
	sum := sha256.Sum256(append(append(append(in[:0], kind...), ':'), id...))
	var out [8]byte
	hex.Encode(out[:], sum[:4])
	return append(b, out[:]...)
}
