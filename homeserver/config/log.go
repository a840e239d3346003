package config

import "log/slog"

// LogLevel is the lowest level of log record written.
type LogLevel string

// The log levels.
const (
	LogDebug LogLevel = "debug"
	LogInfo  LogLevel = "info"
	LogWarn  LogLevel = "warn"
	LogError LogLevel = "error"
)

// LogFormat is how log records are written.
type LogFormat string

// The log formats.
const (
	// LogAuto writes text when stderr is a terminal and JSON otherwise.
	LogAuto LogFormat = "auto"
	LogText LogFormat = "text"
	LogJSON LogFormat = "json"
)

// Log is the log: section.
type Log struct {
	Level  LogLevel  `yaml:"level"`
	Format LogFormat `yaml:"format"`
}

// Defaults sets l to info level in the automatic format.
func (l *Log) Defaults() {
	*l = Log{Level: LogInfo, Format: LogAuto}
}

// Validate reports every problem in l, keyed relative to the section.
func (l Log) Validate() []error {
	var errs []error
	switch l.Level {
	case LogDebug, LogInfo, LogWarn, LogError:
	default:
		errs = append(errs, keyErrorf("level", "must be one of debug, info, warn, error (got %q)", string(l.Level)))
	}
	switch l.Format {
	case LogAuto, LogText, LogJSON:
	default:
		errs = append(errs, keyErrorf("format", "must be one of auto, text, json (got %q)", string(l.Format)))
	}
	return errs
}

// SlogLevel returns Level as a slog.Level; an invalid level gives Info.
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case LogDebug:
		return slog.LevelDebug
	case LogWarn:
		return slog.LevelWarn
	case LogError:
		return slog.LevelError
	}
	return slog.LevelInfo
}
