package manager

import (
	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// NewLogger returns the process logger for the given level and encoding. Keys follow Flux's
// (controller, name, namespace, reconcileID, revision), which controller-runtime and the
// reconcilers add to the logger they pass down in the context.
func NewLogger(level, encoding string) logr.Logger {
	opts := zap.Options{Development: false, TimeEncoder: zapcore.ISO8601TimeEncoder}
	switch level {
	case "debug":
		opts.Level = zapcore.DebugLevel
	case "trace":
		opts.Level = zapcore.Level(-2)
	case "error":
		opts.Level = zapcore.ErrorLevel
	default:
		opts.Level = zapcore.InfoLevel
	}
	if encoding == "console" {
		opts.Encoder = zapcore.NewConsoleEncoder(encoderConfig())
	} else {
		opts.Encoder = zapcore.NewJSONEncoder(encoderConfig())
	}
	return zap.New(zap.UseFlagOptions(&opts))
}

func encoderConfig() zapcore.EncoderConfig {
	c := zapcore.EncoderConfig{
		TimeKey:        "ts",
		LevelKey:       "level",
		NameKey:        "logger",
		CallerKey:      "",
		MessageKey:     "msg",
		StacktraceKey:  "stacktrace",
		LineEnding:     zapcore.DefaultLineEnding,
		EncodeLevel:    zapcore.LowercaseLevelEncoder,
		EncodeTime:     zapcore.ISO8601TimeEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
	}
	return c
}
