// The IoT Hub dialect: encoding, property bags, SAS tokens (vectors of iothub-mqtt.md §2.6),
// topics.
#include <gtest/gtest.h>

#include "core/crypto.hpp"
#include "core/url_encoding.hpp"
#include "hub/property_bag.hpp"
#include "hub/sas_token.hpp"
#include "hub/topics.hpp"

namespace fieldlink::hub {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

constexpr const char* kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const system_clock::time_point kExpiry{seconds(1700000000)};
const Identity kDevice{DeviceId("device1"), ModuleId()};
const Identity kModule{DeviceId("device1"), ModuleId("module1")};

TEST(PercentEncoding, KeepsUnreservedAndEncodesEverythingElseUpperCase) {
  EXPECT_EQ(percent_encode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(percent_encode("a b+c/d&e=f%g?h#i$"), "a%20b%2Bc%2Fd%26e%3Df%25g%3Fh%23i%24");
  EXPECT_EQ(percent_encode("°C"), "%C2%B0C");
}

TEST(PercentEncoding, DecodesAndRefusesBrokenEscapes) {
  EXPECT_EQ(percent_decode("a%20b+c%2f"), "a b+c/");  // + stays a plus (§4.2)
  EXPECT_FALSE(percent_decode("bad%2"));
  EXPECT_FALSE(percent_decode("bad%zz"));
  EXPECT_FALSE(percent_decode("%"));
}

TEST(SasToken, DeviceVectorA) {
  EXPECT_EQ(make_sas_token(sas_resource("myhub.azure-devices.net", kDevice), kKey, kExpiry),
            "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdevice1"
            "&sig=gFSfLGMXDOvf906%2FiaX3KwzLLNFHgaFZyCbsGjxtd1Y%3D&se=1700000000");
}

TEST(SasToken, ModuleVectorB) {
  EXPECT_EQ(make_sas_token(sas_resource("myhub.azure-devices.net", kModule), kKey, kExpiry),
            "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdevice1%2Fmodules%2F"
            "module1&sig=aSJPNyCxfnEudzhZEU6yJNbVb8UQC0RdeXyc7OXVbi8%3D&se=1700000000");
}

TEST(SasToken, PolicyVectorC) {
  EXPECT_EQ(
      make_sas_token(sas_resource("myhub.azure-devices.net", kDevice), kKey, kExpiry, "device"),
      "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdevice1"
      "&sig=gFSfLGMXDOvf906%2FiaX3KwzLLNFHgaFZyCbsGjxtd1Y%3D&se=1700000000&skn=device");
}

TEST(SasToken, RefusesAKeyThatIsNotBase64) {
  EXPECT_FALSE(make_sas_token("h/devices/d", "not base64!", kExpiry));
  EXPECT_FALSE(make_sas_token("h/devices/d", "", kExpiry));
}

TEST(Base64, RoundTripsEveryLength) {
  std::string bytes;
  for (int n = 0; n < 40; ++n) {
    EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes) << n;
    bytes += static_cast<char>(n * 37);
  }
}

TEST(PropertyBag, EncodesSystemPropertiesWithEncodedDollar) {
  PropertyBag bag;
  bag.message_id = "7f3c2a";
  bag.content_type = "application/json";
  bag.content_encoding = "utf-8";
  bag.application = {{"alarm", "high"}};
  EXPECT_EQ(bag.encode(), "%24.mid=7f3c2a&%24.ct=application%2Fjson&%24.ce=utf-8&alarm=high");
  EXPECT_EQ(telemetry_topic(kDevice, bag),
            "devices/device1/messages/events/%24.mid=7f3c2a&%24.ct=application%2Fjson&%24.ce=utf-8"
            "&alarm=high");
  EXPECT_EQ(telemetry_topic(kModule, PropertyBag{}),
            "devices/device1/modules/module1/messages/events/");
}

TEST(PropertyBag, RoundTripsReservedCharactersAndUnicode) {
  PropertyBag bag;
  bag.message_id = "id:1+2";
  bag.correlation_id = "c/1";
  bag.creation_time = "2024-05-01T10:15:00.000Z";
  bag.application = {{"unit", "deg C"}, {"a&b=c", "x%y#z+w"}, {"ort", "Zürich ☃"}, {"empty", ""}};
  const auto decoded = PropertyBag::decode(bag.encode());
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->message_id, bag.message_id);
  EXPECT_EQ(decoded->correlation_id, bag.correlation_id);
  EXPECT_EQ(decoded->creation_time, bag.creation_time);
  EXPECT_EQ(decoded->application, bag.application);
}

TEST(PropertyBag, DecodesWhatTheHubSendsOnC2d) {
  const auto bag = PropertyBag::decode(
      "%24.mid=2c2db32a&%24.to=%2Fdevices%2Fpubsub%2Fmessages%2Fdevicebound&%24.ce=utf-8&"
      "iothub-ack=none&flag&k=");
  ASSERT_TRUE(bag);
  EXPECT_EQ(bag->message_id, "2c2db32a");
  EXPECT_EQ(bag->to, "/devices/pubsub/messages/devicebound");
  EXPECT_EQ(bag->content_encoding, "utf-8");
  EXPECT_EQ(bag->ack, "none");
  const Properties expected{{"flag", ""}, {"k", ""}};
  EXPECT_EQ(bag->application, expected);
  EXPECT_FALSE(PropertyBag::decode("a=%zz"));
}

TEST(Topics, UserNameCarriesApiVersionAndClientType) {
  EXPECT_EQ(mqtt_username("h.azure-devices.net", kDevice),
            "h.azure-devices.net/device1/"
            "?api-version=2021-04-12&DeviceClientType=fieldlink%2F" FIELDLINK_VERSION);
  EXPECT_TRUE(mqtt_username("h", kModule).starts_with("h/device1/module1/?api-version="));
}

TEST(Topics, SubscribesAsTheSdksDo) {
  const std::vector<std::string> device{"devices/device1/messages/devicebound/#",
                                        "$iothub/methods/POST/#", "$iothub/twin/res/#",
                                        "$iothub/twin/PATCH/properties/desired/#"};
  EXPECT_EQ(subscription_filters(kDevice), device);
  EXPECT_EQ(subscription_filters(kModule).size(), 3u);  // modules get no C2D
}

TEST(Topics, ClassifiesWhatTheHubPublishes) {
  auto c2d = classify_inbound("devices/device1/messages/deviceBound/%24.mid=m1&k=v", kDevice);
  EXPECT_EQ(c2d.kind, Inbound::Kind::c2d);
  EXPECT_EQ(c2d.bag.message_id, "m1");
  auto method = classify_inbound("$iothub/methods/POST/reboot/?$rid=1f", kDevice);
  EXPECT_EQ(method.kind, Inbound::Kind::method);
  EXPECT_EQ(method.method, "reboot");
  EXPECT_EQ(method.rid, "1f");
  auto res = classify_inbound("$iothub/twin/res/204/?$rid=7&$version=12", kDevice);
  EXPECT_EQ(res.kind, Inbound::Kind::twin_response);
  EXPECT_EQ(res.status, 204);
  EXPECT_EQ(res.version, 12);
  auto desired = classify_inbound("$iothub/twin/PATCH/properties/desired/?$version=8", kDevice);
  EXPECT_EQ(desired.kind, Inbound::Kind::desired);
  EXPECT_EQ(desired.version, 8);
  for (const char* bad : {"devices/other/messages/devicebound/", "$iothub/methods/POST/x",
                          "$iothub/methods/POST//?$rid=1", "$iothub/twin/res/abc/?$rid=1",
                          "$iothub/twin/PATCH/properties/desired/?$version=x", "random/topic",
                          "devices/device1/messages/devicebound/a=%"}) {
    EXPECT_EQ(classify_inbound(bad, kDevice).kind, Inbound::Kind::unknown) << bad;
  }
  EXPECT_EQ(method_response_topic(200, "1f"), "$iothub/methods/res/200/?$rid=1f");
}

}  // namespace
}  // namespace fieldlink::hub
