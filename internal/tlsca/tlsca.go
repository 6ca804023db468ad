// Package tlsca is devapi's certificate authority: one CA, created once and
// kept in the store, that signs the certificate every TLS database serves,
// so that clients trust all of them through one file.
package tlsca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// CA is a certificate authority: its certificate and private key.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// CertPEM is Cert in PEM, the content of the file clients trust.
	CertPEM []byte
}

// New creates a CA valid for ten years from now.
func New(now time.Time) (*CA, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsca: generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "devapi local CA", Organization: []string{"devapi"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsca: create CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsca: marshal key: %w", err)
	}
	bundle := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...)
	ca, err := Parse(bundle)
	return ca, bundle, err
}

// Parse reads a CA from the PEM bundle New returned.
func Parse(bundle []byte) (*CA, error) {
	var ca CA
	for rest := bundle; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("tlsca: parse certificate: %w", err)
			}
			ca.Cert, ca.CertPEM = cert, pem.EncodeToMemory(block)
		case "EC PRIVATE KEY":
			key, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("tlsca: parse key: %w", err)
			}
			ca.Key = key
		}
	}
	if ca.Cert == nil || ca.Key == nil {
		return nil, errors.New("tlsca: bundle lacks the certificate or the key")
	}
	return &ca, nil
}

// ServerConfig issues a server certificate for hosts (names or IP
// addresses), valid for a year from now, and returns a TLS configuration
// that serves it.
func (ca *CA) ServerConfig(hosts []string, now time.Time) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlsca: generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0], Organization: []string{"devapi"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("tlsca: issue server certificate: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// ServerPEM is ServerConfig's certificate and key in PEM, for servers that
// read them from files (redis-server's tls-cert-file and tls-key-file).
func ServerPEM(cfg *tls.Config) (certPEM, keyPEM []byte, err error) {
	if cfg == nil || len(cfg.Certificates) == 0 {
		return nil, nil, errors.New("tlsca: no certificate in the TLS configuration")
	}
	c := cfg.Certificates[0]
	for _, der := range c.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	key, ok := c.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, errors.New("tlsca: the certificate's key is not ECDSA")
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsca: marshal key: %w", err)
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// Pool returns a certificate pool that trusts the CA, for clients.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// SettingStore is the part of devapi.Store the CA is kept in.
type SettingStore interface {
	InitSetting(ctx context.Context, name string, value []byte) ([]byte, error)
}

// settingName is the store setting that holds the CA bundle.
const settingName = "tls_ca"

// Load returns the CA kept in store, creating and storing it on first use.
// Concurrent first uses agree on one CA.
func Load(ctx context.Context, store SettingStore, now time.Time) (*CA, error) {
	_, bundle, err := New(now)
	if err != nil {
		return nil, err
	}
	kept, err := store.InitSetting(ctx, settingName, bundle)
	if err != nil {
		return nil, fmt.Errorf("tlsca: keep CA in the store: %w", err)
	}
	return Parse(kept)
}
