// Password hashing with crypt(3) bcrypt, compatible with `htpasswd -B`.
// Verification is deliberately slow (cost 10, tens of milliseconds): callers
// cache successful checks (see credential_cache.h) and throttle failures.
#pragma once

#include <string>

namespace berth::auth {

// "$2b$10$..." for a new password.
std::string hashPassword(const std::string& password);
// Accepts $2a$/$2b$/$2y$ hashes. Constant-time comparison of the result.
bool verifyPassword(const std::string& password, const std::string& hash);
// A random password of `length` characters from [A-Za-z0-9].
std::string randomPassword(std::size_t length);

}  // namespace berth::auth
