package server

import (
	"math"
	"net/http"
	"strconv"
	"sync"

	"github.com/devapi-dev/devapi/gen"
	"github.com/devapi-dev/devapi/internal/genserver"
	"github.com/devapi-dev/devapi/internal/jsonesc"
)

// resetPasswordAnswer is reset-password's 200 answer, with the bytes and
// headers of genserver.ResetPassword200JSONResponse. It is the hottest
// answer devapi writes, so it is appended field by field into a pooled
// buffer (answerFields) instead of going through encoding/json's
// reflection, a new encoder and a buffer grown from empty every time.
//
// The bytes are encoding/json's, exactly: tests compare them with the
// generated response's for random and awkward values
// (FuzzResetPasswordAnswer) and fail when the generated type gains, loses
// or changes a field that answerFields does not write the same way
// (TestAnswerFieldsMatchTheGeneratedType). A value encoding/json refuses
// (a NaN or infinite number) sends the answer through the generated
// response, which returns encoding/json's error and writes nothing.
type resetPasswordAnswer genserver.ResetPassword200JSONResponse

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
	b, ok := appendObject((*p)[:0], (*gen.DatabaseWithCredentials)(a), answerFields)
	*p = b
	if !ok {
		return genserver.ResetPassword200JSONResponse(*a).VisitResetPasswordResponse(w)
	}
	b = append(b, '\n') // as json.Encoder ends every value
	*p = b
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	return err
}

// jsonField is one field of the struct S as encoding/json writes it.
type jsonField[S any] struct {
	goName string // the Go field's name in S
	tag    string // its json tag, as S declares it
	typ    any    // a zero value of the Go field's type
	key    string // `,"name":`, written before the value
	// write appends the field (key and value) to b, or nothing if
	// encoding/json leaves it out; false if encoding/json would fail.
	write func(b []byte, key string, s *S) ([]byte, bool)
}

// appendObject appends s as a JSON object of fields, in order, as
// encoding/json does; false if one of them cannot be written.
func appendObject[S any](b []byte, s *S, fields []jsonField[S]) ([]byte, bool) {
	start := len(b)
	for i := range fields {
		var ok bool
		if b, ok = fields[i].write(b, fields[i].key, s); !ok {
			return b, false
		}
	}
	if len(b) == start {
		return append(b, '{', '}'), true
	}
	b[start] = '{' // every key starts with a comma
	return append(b, '}'), true
}

// required is a field that encoding/json always writes: `json:"name"`.
func required[S, V any](goName, name string, get func(*S) V, value func([]byte, V) ([]byte, bool)) jsonField[S] {
	return jsonField[S]{
		goName: goName, tag: name, typ: *new(V), key: `,"` + name + `":`,
		write: func(b []byte, key string, s *S) ([]byte, bool) {
			return value(append(b, key...), get(s))
		},
	}
}

// optional is a pointer field with `json:"name,omitempty"`, which
// encoding/json leaves out when nil.
func optional[S, V any](goName, name string, get func(*S) *V, value func([]byte, V) ([]byte, bool)) jsonField[S] {
	return jsonField[S]{
		goName: goName, tag: name + ",omitempty", typ: (*V)(nil), key: `,"` + name + `":`,
		write: func(b []byte, key string, s *S) ([]byte, bool) {
			v := get(s)
			if v == nil {
				return b, true
			}
			return value(append(b, key...), *v)
		},
	}
}

// object is a pointer-to-struct field with `json:"name,omitempty"`,
// written as an object of fields, or left out when nil.
func object[S, V any](goName, name string, get func(*S) *V, fields []jsonField[V]) jsonField[S] {
	return jsonField[S]{
		goName: goName, tag: name + ",omitempty", typ: (*V)(nil), key: `,"` + name + `":`,
		write: func(b []byte, key string, s *S) ([]byte, bool) {
			v := get(s)
			if v == nil {
				return b, true
			}
			return appendObject(append(b, key...), v, fields)
		},
	}
}

// securityAddons is the generated (unnamed) type of the securityAddons
// field. Spelled out here, any change to it in gen stops the build.
type securityAddons = struct {
	EncryptionAtRest *bool `json:"encryptionAtRest,omitempty"`
	IpWhitelisting   *bool `json:"ipWhitelisting,omitempty"`
	PrivateLink      *bool `json:"privateLink,omitempty"`
	TlsMutualAuth    *bool `json:"tlsMutualAuth,omitempty"`
	VpcPeering       *bool `json:"vpcPeering,omitempty"`
}

// securityAddonsFields are securityAddons' fields, in declaration order.
var securityAddonsFields = []jsonField[securityAddons]{
	optional("EncryptionAtRest", "encryptionAtRest", func(s *securityAddons) *bool { return s.EncryptionAtRest }, appendBool),
	optional("IpWhitelisting", "ipWhitelisting", func(s *securityAddons) *bool { return s.IpWhitelisting }, appendBool),
	optional("PrivateLink", "privateLink", func(s *securityAddons) *bool { return s.PrivateLink }, appendBool),
	optional("TlsMutualAuth", "tlsMutualAuth", func(s *securityAddons) *bool { return s.TlsMutualAuth }, appendBool),
	optional("VpcPeering", "vpcPeering", func(s *securityAddons) *bool { return s.VpcPeering }, appendBool),
}

// dwc shortens the field table's lines.
type dwc = gen.DatabaseWithCredentials

// answerFields are gen.DatabaseWithCredentials' fields in declaration
// order, which is the order encoding/json writes them in.
var answerFields = []jsonField[dwc]{
	optional("AllMembers", "all_members", func(d *dwc) *[]string { return d.AllMembers }, appendStrings),
	optional("AllowedIpRanges", "allowed_ip_ranges", func(d *dwc) *[]string { return d.AllowedIpRanges }, appendStrings),
	optional("AutoUpgrade", "auto_upgrade", func(d *dwc) *bool { return d.AutoUpgrade }, appendBool),
	optional("Budget", "budget", func(d *dwc) *int64 { return d.Budget }, appendInt),
	optional("ClusterId", "cluster_id", func(d *dwc) *string { return d.ClusterId }, appendString),
	optional("Consistent", "consistent", func(d *dwc) *bool { return d.Consistent }, appendBool),
	required("CreationTime", "creation_time", func(d *dwc) int64 { return d.CreationTime }, appendInt),
	optional("CustomerId", "customer_id", func(d *dwc) *string { return d.CustomerId }, appendString),
	optional("DailyBackupEnabled", "daily_backup_enabled", func(d *dwc) *bool { return d.DailyBackupEnabled }, appendBool),
	required("DatabaseId", "database_id", func(d *dwc) string { return d.DatabaseId }, appendString),
	required("DatabaseName", "database_name", func(d *dwc) string { return d.DatabaseName }, appendString),
	optional("DatabaseType", "database_type", func(d *dwc) *string { return d.DatabaseType }, appendString),
	optional("DbAclDefaultUserStatus", "db_acl_default_user_status", func(d *dwc) *string { return d.DbAclDefaultUserStatus }, appendString),
	optional("DbAclEnabled", "db_acl_enabled", func(d *dwc) *string { return d.DbAclEnabled }, appendString),
	optional("DbConnIdleTimeout", "db_conn_idle_timeout", func(d *dwc) *int64 { return d.DbConnIdleTimeout }, appendInt),
	optional("DbDailyBandwidthLimit", "db_daily_bandwidth_limit", func(d *dwc) *int64 { return d.DbDailyBandwidthLimit }, appendInt),
	optional("DbDiskThreshold", "db_disk_threshold", func(d *dwc) *int64 { return d.DbDiskThreshold }, appendInt),
	optional("DbEviction", "db_eviction", func(d *dwc) *bool { return d.DbEviction }, appendBool),
	optional("DbLuaCreditsPerMin", "db_lua_credits_per_min", func(d *dwc) *int64 { return d.DbLuaCreditsPerMin }, appendInt),
	optional("DbLuaTimeout", "db_lua_timeout", func(d *dwc) *int64 { return d.DbLuaTimeout }, appendInt),
	optional("DbMaxClients", "db_max_clients", func(d *dwc) *int64 { return d.DbMaxClients }, appendInt),
	optional("DbMaxCommandsPerSecond", "db_max_commands_per_second", func(d *dwc) *int64 { return d.DbMaxCommandsPerSecond }, appendInt),
	optional("DbMaxEntrySize", "db_max_entry_size", func(d *dwc) *int64 { return d.DbMaxEntrySize }, appendInt),
	optional("DbMaxLoadsPerSec", "db_max_loads_per_sec", func(d *dwc) *int64 { return d.DbMaxLoadsPerSec }, appendInt),
	optional("DbMaxRequestSize", "db_max_request_size", func(d *dwc) *int64 { return d.DbMaxRequestSize }, appendInt),
	optional("DbMemoryThreshold", "db_memory_threshold", func(d *dwc) *int64 { return d.DbMemoryThreshold }, appendInt),
	optional("DbRequestLimit", "db_request_limit", func(d *dwc) *float64 { return d.DbRequestLimit }, appendFloat),
	optional("DbResourceSize", "db_resource_size", func(d *dwc) *string { return d.DbResourceSize }, appendString),
	optional("DbStoreMaxIdle", "db_store_max_idle", func(d *dwc) *int64 { return d.DbStoreMaxIdle }, appendInt),
	optional("DbType", "db_type", func(d *dwc) *string { return d.DbType }, appendString),
	required("Endpoint", "endpoint", func(d *dwc) string { return d.Endpoint }, appendString),
	optional("Eviction", "eviction", func(d *dwc) *bool { return d.Eviction }, appendBool),
	optional("LastPlanUpgradeTime", "last_plan_upgrade_time", func(d *dwc) *int64 { return d.LastPlanUpgradeTime }, appendInt),
	optional("ModifyingState", "modifying_state", func(d *dwc) *string { return d.ModifyingState }, appendString),
	optional("Multizone", "multizone", func(d *dwc) *bool { return d.Multizone }, appendBool),
	optional("NextDailyBackupTime", "next_daily_backup_time", func(d *dwc) *int64 { return d.NextDailyBackupTime }, appendInt),
	required("Password", "password", func(d *dwc) string { return d.Password }, appendString),
	optional("PoolId", "pool_id", func(d *dwc) *string { return d.PoolId }, appendString),
	required("Port", "port", func(d *dwc) int64 { return d.Port }, appendInt),
	optional("PrimaryMembers", "primary_members", func(d *dwc) *[]string { return d.PrimaryMembers }, appendStrings),
	optional("PrimaryRegion", "primary_region", func(d *dwc) *string { return d.PrimaryRegion }, appendString),
	optional("ProdPackEnabled", "prod_pack_enabled", func(d *dwc) *bool { return d.ProdPackEnabled }, appendBool),
	optional("PrometheusEnabled", "prometheus_enabled", func(d *dwc) *string { return d.PrometheusEnabled }, appendString),
	required("ReadOnlyRestToken", "read_only_rest_token", func(d *dwc) string { return d.ReadOnlyRestToken }, appendString),
	optional("ReadRegions", "read_regions", func(d *dwc) *[]string { return d.ReadRegions }, appendStrings),
	required("Region", "region", func(d *dwc) string { return d.Region }, appendString),
	optional("Replicas", "replicas", func(d *dwc) *int64 { return d.Replicas }, appendInt),
	optional("ReservedPerRegionPrice", "reserved_per_region_price", func(d *dwc) *float64 { return d.ReservedPerRegionPrice }, appendFloat),
	required("RestToken", "rest_token", func(d *dwc) string { return d.RestToken }, appendString),
	object("SecurityAddons", "securityAddons", func(d *dwc) *securityAddons { return d.SecurityAddons }, securityAddonsFields),
	required("State", "state", func(d *dwc) string { return d.State }, appendString),
	required("Tls", "tls", func(d *dwc) bool { return d.Tls }, appendBool),
	optional("Type", "type", func(d *dwc) *string { return d.Type }, appendString),
	optional("UserEmail", "user_email", func(d *dwc) *string { return d.UserEmail }, appendString),
}

func appendBool(b []byte, v bool) ([]byte, bool) {
	return strconv.AppendBool(b, v), true
}

func appendInt(b []byte, v int64) ([]byte, bool) {
	return strconv.AppendInt(b, v, 10), true
}

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

// appendStrings writes a nil slice as null, as encoding/json does.
func appendStrings(b []byte, v []string) ([]byte, bool) {
	if v == nil {
		return append(b, "null"...), true
	}
	b = append(b, '[')
	for i, s := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b, _ = appendString(b, s)
	}
	return append(b, ']'), true
}

// appendString writes s quoted as encoding/json does with HTML escaping
// on (jsonesc).
func appendString(b []byte, s string) ([]byte, bool) {
	b = append(b, '"')
	b, _ = jsonesc.Append(b, s, true)
	return append(b, '"'), true
}
