// Small POSIX helpers with errno turned into Error values.
#pragma once

#include <string>

#include "berth/core/error.h"

namespace berth::storage {

Status makeDirs(const std::string& path);          // mkdir -p
Status fsyncPath(const std::string& path);         // open + fsync (files or directories)
Status fsyncFd(int fd, const std::string& path_for_errors);
// rename + fsync of the destination's directory.
Status durableRename(const std::string& from, const std::string& to);
// Writes bytes to a new file at path, fsyncs it. Used for temp files.
Status writeNewFile(const std::string& path, const std::string& bytes);
// Removes every regular file directly inside dir; returns how many.
std::size_t removeFilesIn(const std::string& dir);
std::string parentDir(const std::string& path);
// 128 random bits from the CSPRNG as 32 hex characters (upload ids, temp names,
// token secrets and keys). Throws std::runtime_error if the CSPRNG fails.
std::string randomHex16();

}  // namespace berth::storage
