// Password hashing with crypt(3) bcrypt, compatible with `htpasswd -B`.
// Verification is deliberately slow (cost 10, tens of milliseconds): callers
// cache successful checks (see credential_cache.h) and throttle failures.
#pragma once

#include <string>

namespace berth::auth {

// Empty when `password` can be hashed; otherwise why not. bcrypt reads at
// most 72 bytes and stops at a NUL, so longer passwords or ones with a NUL
// would be silently shortened (libxcrypt refuses the long ones outright).
std::string passwordProblem(const std::string& password);
// Empty when `hash` is a well-formed $2a$/$2b$/$2y$ bcrypt hash of a cost from
// 4 to 16; otherwise why not. A cost of 31 would make every login with it
// spin a core for days.
std::string bcryptHashProblem(const std::string& hash);
// "$2b$10$..." for a new password.
std::string hashPassword(const std::string& password);
// Accepts $2a$/$2b$/$2y$ hashes. Constant-time comparison of the result.
bool verifyPassword(const std::string& password, const std::string& hash);
// A random password of `length` characters from [A-Za-z0-9].
std::string randomPassword(std::size_t length);

}  // namespace berth::auth
