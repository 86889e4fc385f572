#include "berth/core/error.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace berth {
namespace {

TEST(ErrnoError, ExhaustedResourcesAreUnavailableOthersUnknown) {
  for (int err : {ENOSPC, EMFILE, ENFILE}) {
    SCOPED_TRACE(err);
    EXPECT_EQ(errnoError(err, "open", "/x").code, ErrorCode::Unavailable);
  }
  EXPECT_EQ(errnoError(EIO, "write", "/x").code, ErrorCode::Unknown);
  EXPECT_EQ(errnoError(EMFILE, "create upload", "/srv/uploads/u").message,
            "create upload /srv/uploads/u: Too many open files");
}

}  // namespace
}  // namespace berth
