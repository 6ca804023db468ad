package server

import (
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

// databaseValues holds what the optional (pointer) fields of one answer
// point at, so that an answer costs one allocation for them rather than one
// per field. Each answer has its own: no two answers share a value.
type databaseValues struct {
	label, typ, primaryRegion, owner           string
	clusterID, poolID                          string
	empty, resourceSize, dbType, no, yes       string
	no1, no2, no3, no4, no5, no6, no7          bool
	autoUpgrade, prodPack, dailyBackup         bool
	evictionOn                                 bool
	zeroPrice                                  float64
	zero, budget, replicas                     int64
	connIdle, luaTimeout, luaCredits, maxIdle  int64
	maxLoads                                   int64
	limits                                     devapi.Limits
	primary                                    [1]string
	reads, members, primaryMembers, allowedIPs []string
	addons                                     struct {
		EncryptionAtRest *bool `json:"encryptionAtRest,omitempty"`
		IpWhitelisting   *bool `json:"ipWhitelisting,omitempty"`
		PrivateLink      *bool `json:"privateLink,omitempty"`
		TlsMutualAuth    *bool `json:"tlsMutualAuth,omitempty"`
		VpcPeering       *bool `json:"vpcPeering,omitempty"`
	}
	password, restToken, readOnlyRestToken string
}

// toDatabase translates a domain database into its API form, with or
// without the password and REST tokens.
func (s *Server) toDatabase(d *devapi.Database, withCredentials bool) gen.Database {
	v := &databaseValues{
		primaryRegion: d.PrimaryRegion,
		owner:         d.Owner,
		evictionOn:    d.Eviction,
		autoUpgrade:   d.AutoUpgrade,
		prodPack:      d.ProdPack,
		dailyBackup:   d.DailyBackup,
		budget:        d.Budget,
		resourceSize:  "S",
		dbType:        "pebble",
		no:            "false",
		yes:           "true",
		connIdle:      connIdleTimeoutNs,
		luaTimeout:    luaTimeoutNs,
		luaCredits:    luaCreditsPerMin,
		maxIdle:       storeMaxIdleNs,
		maxLoads:      maxLoadsPerSec,
	}
	v.typ, v.label = devapi.PlanType(d.Plan)
	v.limits, _ = devapi.PlanLimits(d.Plan)
	// One backing array for all_members, read_regions and allowed_ip_ranges
	// (each a full slice of its own part, so none can grow into another).
	nr, na := len(d.ReadRegions), len(d.AllowedIPs)
	strs := make([]string, 0, 1+nr+nr+na)
	strs = append(strs, d.PrimaryRegion)
	strs = append(strs, d.ReadRegions...)
	v.members = strs[0 : 1+nr : 1+nr]
	strs = append(strs, d.ReadRegions...)
	v.reads = strs[1+nr : 1+nr+nr : 1+nr+nr]
	strs = append(strs, d.AllowedIPs...)
	v.allowedIPs = strs[1+nr+nr : 1+nr+nr+na : 1+nr+nr+na]
	v.primary[0] = d.PrimaryRegion
	v.primaryMembers = v.primary[:]
	v.replicas = int64(len(v.members))
	v.clusterID = shortID("cluster", d.ID)
	v.poolID = shortID("pool", d.ID)
	v.addons.EncryptionAtRest = &v.no3
	v.addons.IpWhitelisting = &v.no4
	v.addons.PrivateLink = &v.no5
	v.addons.TlsMutualAuth = &v.no6
	v.addons.VpcPeering = &v.no7
	out := gen.Database{
		DatabaseId:             d.ID,
		DatabaseName:           d.Name,
		DatabaseType:           &v.label,
		Type:                   &v.typ,
		Region:                 "global",
		PrimaryRegion:          &v.primaryRegion,
		ReadRegions:            &v.reads,
		PrimaryMembers:         &v.primaryMembers,
		AllMembers:             &v.members,
		Port:                   int64(d.Port),
		CreationTime:           d.CreatedAt.Unix(),
		State:                  s.health.state(d.ID, d.State),
		ModifyingState:         &v.empty,
		UserEmail:              &v.owner,
		CustomerId:             &v.owner,
		Endpoint:               d.Endpoint,
		Tls:                    d.TLS,
		Consistent:             &v.no1,
		Multizone:              &v.no2,
		Eviction:               &v.evictionOn,
		DbEviction:             &v.evictionOn,
		AutoUpgrade:            &v.autoUpgrade,
		ProdPackEnabled:        &v.prodPack,
		Budget:                 &v.budget,
		DailyBackupEnabled:     &v.dailyBackup,
		ReservedPerRegionPrice: &v.zeroPrice,
		LastPlanUpgradeTime:    &v.zero,
		Replicas:               &v.replicas,
		ClusterId:              &v.clusterID,
		PoolId:                 &v.poolID,
		AllowedIpRanges:        &v.allowedIPs,
		DbMaxClients:           &v.limits.MaxClients,
		DbMaxRequestSize:       &v.limits.MaxRequestSize,
		DbDiskThreshold:        &v.limits.DiskThreshold,
		DbMaxEntrySize:         &v.limits.MaxEntrySize,
		DbMemoryThreshold:      &v.limits.MemoryThreshold,
		DbDailyBandwidthLimit:  &v.limits.DailyBandwidthLimit,
		DbMaxCommandsPerSecond: &v.limits.MaxCommandsPerSec,
		DbRequestLimit:         &v.limits.RequestLimit,
		DbResourceSize:         &v.resourceSize,
		DbType:                 &v.dbType,
		DbConnIdleTimeout:      &v.connIdle,
		DbLuaTimeout:           &v.luaTimeout,
		DbLuaCreditsPerMin:     &v.luaCredits,
		DbStoreMaxIdle:         &v.maxIdle,
		DbMaxLoadsPerSec:       &v.maxLoads,
		DbAclEnabled:           &v.no,
		DbAclDefaultUserStatus: &v.yes,
		PrometheusEnabled:      &v.no,
		SecurityAddons:         &v.addons,
	}
	if withCredentials {
		v.password, v.restToken, v.readOnlyRestToken = d.Password, d.RestToken, d.ReadOnlyRestToken
		out.Password = &v.password
		out.RestToken = &v.restToken
		out.ReadOnlyRestToken = &v.readOnlyRestToken
	}
	return out
}

// shortID derives a stable 8-hex-character id (cluster_id, pool_id) from a
// database id (appendShortID).
func shortID(kind, id string) string {
	var out [8]byte
	return string(appendShortID(out[:0], kind, id))
}

func ptr[T any](v T) *T { return &v }
