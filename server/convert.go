package server

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/gen"
)

// Fixed settings of every devapi database, with the values Upstash reports.
const (
	connIdleTimeoutNs = 21600000000000 // 6h
	luaTimeoutNs      = 250000000      // 250ms
	luaCreditsPerMin  = 10000000000
	storeMaxIdleNs    = 900000000000 // 15m
	maxLoadsPerSec    = 1000000
)

// toDatabase translates a domain database into its API form, with or
// without the password and REST tokens.
func (s *Server) toDatabase(d *devapi.Database, withCredentials bool) gen.Database {
	typ, label := devapi.PlanType(d.Plan)
	limits, _ := devapi.PlanLimits(d.Plan)
	members := append([]string{d.PrimaryRegion}, d.ReadRegions...)
	reads := append([]string{}, d.ReadRegions...)
	out := gen.Database{
		DatabaseId:             d.ID,
		DatabaseName:           d.Name,
		DatabaseType:           ptr(label),
		Type:                   ptr(typ),
		Region:                 "global",
		PrimaryRegion:          ptr(d.PrimaryRegion),
		ReadRegions:            &reads,
		PrimaryMembers:         &[]string{d.PrimaryRegion},
		AllMembers:             &members,
		Port:                   int64(d.Port),
		CreationTime:           d.CreatedAt.Unix(),
		State:                  s.health.state(d.ID, d.State),
		ModifyingState:         ptr(""),
		UserEmail:              ptr(d.Owner),
		CustomerId:             ptr(d.Owner),
		Endpoint:               d.Endpoint,
		Tls:                    d.TLS,
		Consistent:             ptr(false),
		Multizone:              ptr(false),
		Eviction:               ptr(d.Eviction),
		DbEviction:             ptr(d.Eviction),
		AutoUpgrade:            ptr(d.AutoUpgrade),
		ProdPackEnabled:        ptr(d.ProdPack),
		Budget:                 ptr(d.Budget),
		DailyBackupEnabled:     ptr(d.DailyBackup),
		ReservedPerRegionPrice: ptr(0.0),
		LastPlanUpgradeTime:    ptr(int64(0)),
		Replicas:               ptr(int64(len(members))),
		ClusterId:              ptr(shortID("cluster", d.ID)),
		PoolId:                 ptr(shortID("pool", d.ID)),
		AllowedIpRanges:        ptr(slices.Clone(nonNil(d.AllowedIPs))),
		DbMaxClients:           ptr(limits.MaxClients),
		DbMaxRequestSize:       ptr(limits.MaxRequestSize),
		DbDiskThreshold:        ptr(limits.DiskThreshold),
		DbMaxEntrySize:         ptr(limits.MaxEntrySize),
		DbMemoryThreshold:      ptr(limits.MemoryThreshold),
		DbDailyBandwidthLimit:  ptr(limits.DailyBandwidthLimit),
		DbMaxCommandsPerSecond: ptr(limits.MaxCommandsPerSec),
		DbRequestLimit:         ptr(limits.RequestLimit),
		DbResourceSize:         ptr("S"),
		DbType:                 ptr("pebble"),
		DbConnIdleTimeout:      ptr(int64(connIdleTimeoutNs)),
		DbLuaTimeout:           ptr(int64(luaTimeoutNs)),
		DbLuaCreditsPerMin:     ptr(int64(luaCreditsPerMin)),
		DbStoreMaxIdle:         ptr(int64(storeMaxIdleNs)),
		DbMaxLoadsPerSec:       ptr(int64(maxLoadsPerSec)),
		DbAclEnabled:           ptr("false"),
		DbAclDefaultUserStatus: ptr("true"),
		PrometheusEnabled:      ptr("false"),
	}
	out.SecurityAddons = &struct {
		EncryptionAtRest *bool `json:"encryptionAtRest,omitempty"`
		IpWhitelisting   *bool `json:"ipWhitelisting,omitempty"`
		PrivateLink      *bool `json:"privateLink,omitempty"`
		TlsMutualAuth    *bool `json:"tlsMutualAuth,omitempty"`
		VpcPeering       *bool `json:"vpcPeering,omitempty"`
	}{ptr(false), ptr(false), ptr(false), ptr(false), ptr(false)}
	if withCredentials {
		out.Password = ptr(d.Password)
		out.RestToken = ptr(d.RestToken)
		out.ReadOnlyRestToken = ptr(d.ReadOnlyRestToken)
	}
	return out
}

// toDatabaseWithCredentials is toDatabase for answers that guarantee the
// credentials. The generated type repeats Database's fields with the
// credentials required rather than optional, so the fields are copied one
// by one: reset-password answers it on every call, and a JSON round trip
// between the two types cost a tenth of that request's CPU.
// TestDatabaseWithCredentialsCopiesEveryField checks that the copy leaves no
// field behind, against that round trip.
func (s *Server) toDatabaseWithCredentials(d *devapi.Database) gen.DatabaseWithCredentials {
	db := s.toDatabase(d, false)
	return gen.DatabaseWithCredentials{
		AllMembers:             db.AllMembers,
		AllowedIpRanges:        db.AllowedIpRanges,
		AutoUpgrade:            db.AutoUpgrade,
		Budget:                 db.Budget,
		ClusterId:              db.ClusterId,
		Consistent:             db.Consistent,
		CreationTime:           db.CreationTime,
		CustomerId:             db.CustomerId,
		DailyBackupEnabled:     db.DailyBackupEnabled,
		DatabaseId:             db.DatabaseId,
		DatabaseName:           db.DatabaseName,
		DatabaseType:           db.DatabaseType,
		DbAclDefaultUserStatus: db.DbAclDefaultUserStatus,
		DbAclEnabled:           db.DbAclEnabled,
		DbConnIdleTimeout:      db.DbConnIdleTimeout,
		DbDailyBandwidthLimit:  db.DbDailyBandwidthLimit,
		DbDiskThreshold:        db.DbDiskThreshold,
		DbEviction:             db.DbEviction,
		DbLuaCreditsPerMin:     db.DbLuaCreditsPerMin,
		DbLuaTimeout:           db.DbLuaTimeout,
		DbMaxClients:           db.DbMaxClients,
		DbMaxCommandsPerSecond: db.DbMaxCommandsPerSecond,
		DbMaxEntrySize:         db.DbMaxEntrySize,
		DbMaxLoadsPerSec:       db.DbMaxLoadsPerSec,
		DbMaxRequestSize:       db.DbMaxRequestSize,
		DbMemoryThreshold:      db.DbMemoryThreshold,
		DbRequestLimit:         db.DbRequestLimit,
		DbResourceSize:         db.DbResourceSize,
		DbStoreMaxIdle:         db.DbStoreMaxIdle,
		DbType:                 db.DbType,
		Endpoint:               db.Endpoint,
		Eviction:               db.Eviction,
		LastPlanUpgradeTime:    db.LastPlanUpgradeTime,
		ModifyingState:         db.ModifyingState,
		Multizone:              db.Multizone,
		NextDailyBackupTime:    db.NextDailyBackupTime,
		PoolId:                 db.PoolId,
		Port:                   db.Port,
		PrimaryMembers:         db.PrimaryMembers,
		PrimaryRegion:          db.PrimaryRegion,
		ProdPackEnabled:        db.ProdPackEnabled,
		PrometheusEnabled:      db.PrometheusEnabled,
		ReadRegions:            db.ReadRegions,
		Region:                 db.Region,
		Replicas:               db.Replicas,
		ReservedPerRegionPrice: db.ReservedPerRegionPrice,
		SecurityAddons:         db.SecurityAddons,
		State:                  db.State,
		Tls:                    db.Tls,
		Type:                   db.Type,
		UserEmail:              db.UserEmail,
		Password:               d.Password,
		RestToken:              d.RestToken,
		ReadOnlyRestToken:      d.ReadOnlyRestToken,
	}
}

// shortID derives a stable 8-hex-character id (cluster_id, pool_id) from a
// database id.
func shortID(kind, id string) string {
	sum := sha256.Sum256([]byte(kind + ":" + id))
	return hex.EncodeToString(sum[:4])
}

func ptr[T any](v T) *T { return &v }
