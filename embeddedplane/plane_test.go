package embeddedplane_test

import (
	"testing"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/embeddedplane"
	"github.com/devapi-dev/devapi/planetest"
)

func TestConformance(t *testing.T) {
	planetest.Run(t, planetest.Options{
		Persistent: false,
		Open: func(t *testing.T, _ string, cfg devapi.PlaneConfig) devapi.Plane {
			return embeddedplane.New(cfg)
		},
	})
}
