//go:build !race

package slackexport

const raceEnabled = false
