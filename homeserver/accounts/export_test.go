package accounts

// UseCheapHashing makes s hash passwords with argon2id's smallest parameters, so that tests
// stay fast. Real deployments always use defaultArgon2Params.
func UseCheapHashing(s *Service) { s.hashParams = cheapArgon2Params }

// UseOtherCheapHashing switches s to different cheap parameters, so that hashes made before
// become stale.
func UseOtherCheapHashing(s *Service) {
	p := cheapArgon2Params
	p.time = 2
	s.hashParams = p
}

var cheapArgon2Params = argon2Params{memory: 8, time: 1, threads: 1, saltLen: 16, keyLen: 32}
