// The header's navigation row (wide windows), drawn by the browser from one list: one server element instead of a
// NiceGUI button per page (issue 18: every open tab holds its header). Each item is a link, as ui.navigate.to was:
// a click loads that page. Labels and icons are the app's own page names, never text a user typed.
export default {
  template: `
    <div class="nicegui-row gap-1">
      <q-btn v-for="item in items" :key="item.path" flat dense no-caps color="white" :icon="item.icon"
             :label="item.label" :href="url(item.path)" :class="item.path === current ? 'bg-white/20' : ''" />
    </div>`,
  props: { items: Array, current: String },
  methods: {
    url(path) { return (window.path_prefix || "") + path; }, // as ui.navigate does under a root path
  },
};
