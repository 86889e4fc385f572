// Password hashing with crypt(3) bcrypt, compatible with `htpasswd -B`.
// Verification is deliberately slow (cost 10, tens of milliseconds): callers
// cache successful checks (SecurityService) and throttle failures.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace berth::auth {

// Empty when `password` can be hashed; otherwise why not. bcrypt reads at
// most 72 bytes and stops at a NUL, so longer passwords or ones with a NUL
// would be silently shortened (libxcrypt refuses the long ones outright).
std::string passwordProblem(const std::string& password);
// Empty when `hash` is a well-formed $2a$/$2b$/$2y$ bcrypt hash of a cost from
// 4 to 16; otherwise why not. A cost of 31 would make every login with it
// spin a core for days.
std::string bcryptHashProblem(const std::string& hash);
// The cost of hashes Berth makes (the dummy hash of unknown users too).
inline constexpr int kBcryptCost = 10;

// "$2b$10$..." for a new password.
std::string hashPassword(const std::string& password);
// Accepts $2a$/$2b$/$2y$ hashes. Constant-time comparison of the result.
bool verifyPassword(const std::string& password, const std::string& hash);
// The check SecurityService runs (verifyPassword; tests substitute a counting one).
using PasswordVerifier = std::function<bool(const std::string& password, const std::string& hash)>;

// The initial administrator's password alphabet: no 0/O, 1/l/I look-alikes.
inline constexpr std::string_view kPasswordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
// A random password of `length` characters of kPasswordAlphabet, uniformly
// drawn from OpenSSL's CSPRNG. Throws if the CSPRNG fails.
std::string randomPassword(std::size_t length);
// `length` characters of `alphabet` (at most 256), each uniform: rejection sampling over RAND_bytes.
std::string randomString(std::size_t length, std::string_view alphabet);
// The index into an alphabet of `size` (1..256) that a random byte stands
// for, or nullopt when the byte must be rejected: bytes at or above the largest
// multiple of `size` would favour the first letters.
std::optional<std::size_t> sampleIndex(unsigned char byte, std::size_t size);

}  // namespace berth::auth
