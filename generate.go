package devapi

// The generator is pinned in go.tools.mod, a modfile of its own, so that its
// dependencies never reach go.mod and through it a consumer of this module.
// openapi.yaml is the one source of both outputs: gen/ (models and client,
// which the upstash SDK imports) and internal/genserver/ (chi server, strict
// server and the embedded spec).
//go:generate go tool -modfile=go.tools.mod oapi-codegen -config oapi-codegen.yaml openapi.yaml
//go:generate go tool -modfile=go.tools.mod oapi-codegen -config oapi-codegen-server.yaml openapi.yaml
