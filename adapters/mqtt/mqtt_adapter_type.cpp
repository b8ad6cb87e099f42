#include "adapters/mqtt/mqtt_adapter_type.hpp"

#include "adapters/mqtt/mqtt_adapter.hpp"
#include "adapters/mqtt/mqtt_settings.hpp"

namespace fieldlink::mqtt {

AdapterType mqtt_adapter_type() {
  return AdapterType{
      "mqtt", "Devices on the plant's local MQTT broker (QoS 1, persistent session)",
      [](const ConfigNode& item, const std::string& path,
         Diagnostics& diagnostics) -> std::shared_ptr<const AdapterSettings> {
        return parse_mqtt_settings(item, path, diagnostics);
      },
      [](AdapterContext context,
         std::shared_ptr<const AdapterSettings> settings) -> std::unique_ptr<Adapter> {
        return std::make_unique<MqttAdapter>(
            std::move(context), std::dynamic_pointer_cast<const MqttSettings>(settings));
      },
      mqtt_schema_reference};
}

}  // namespace fieldlink::mqtt
